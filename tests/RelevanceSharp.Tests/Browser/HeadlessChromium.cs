using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RelevanceSharp.Tests.Browser;

/// <summary>What a page looked like once loaded in headless Chromium.</summary>
/// <param name="Dom">The rendered document, <c>document.documentElement.outerHTML</c>.</param>
/// <param name="ConsoleErrors">Console errors, uncaught exceptions and error-level log entries (a file that failed to load, ...).</param>
/// <param name="Requests">The URL of every request the page made (files and data included).</param>
/// <param name="Screenshot">A PNG screenshot of the viewport.</param>
internal sealed record PageLoad(string Dom, IReadOnlyList<string> ConsoleErrors, IReadOnlyList<string> Requests, byte[] Screenshot);

/// <summary>
/// Loads a local HTML file in Debian's headless Chromium (<c>/usr/bin/chromium</c>) and reports the rendered DOM, the
/// console errors, the requests and a screenshot; scripts can be run in the page in between (clicks, typing). Chromium
/// runs in a fresh profile with networking extras off (no sync, component updates or background networking) and is
/// driven over the DevTools protocol through a WebSocket of its own (<c>--remote-debugging-port=0</c>, the port read
/// from the profile's <c>DevToolsActivePort</c>); no browser-automation package. Disposing ends the browser process
/// this instance started (and its children) and removes the profile.
/// </summary>
internal sealed class HeadlessChromium : IDisposable
{
    /// <summary>Where Debian's <c>chromium</c> package puts the browser.</summary>
    public const string Executable = "/usr/bin/chromium";

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly Process process;
    private readonly string profile;
    private readonly ClientWebSocket socket = new();
    private readonly Dictionary<int, TaskCompletionSource<JsonObject>> pending = [];
    private readonly List<string> errors = [];
    private readonly List<string> requests = [];
    private readonly object gate = new();
    private readonly CancellationTokenSource stop = new();
    private TaskCompletionSource loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? receiver;
    private int nextId;

    /// <summary>Why Chromium cannot run here, or <c>null</c> when it can.</summary>
    public static string? Unavailable => File.Exists(Executable)
        ? null
        : $"no browser at {Executable} (test.sh installs Debian's chromium package; apt-get install chromium)";

    /// <summary>Whether Chromium can run here.</summary>
    public static bool Available => Unavailable is null;

    private HeadlessChromium(int width, int height)
    {
        profile = Path.Combine(Path.GetTempPath(), "rs-chromium-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profile);
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars", $"--user-data-dir={profile}", "--remote-debugging-port=0",
            $"--window-size={width},{height}", "about:blank",
        })
        {
            start.ArgumentList.Add(argument);
        }
        process = Process.Start(start) ?? throw new InvalidOperationException($"{Executable} did not start.");
        // Chromium's own chatter (D-Bus, GPU) goes to its pipes, which are drained so that it never blocks on them.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Starts Chromium with a viewport of the given size.</summary>
    public static HeadlessChromium Start(int width = 1400, int height = 900)
    {
        var browser = new HeadlessChromium(width, height);
        try
        {
            browser.Connect();
            return browser;
        }
        catch
        {
            browser.Dispose();
            throw;
        }
    }

    /// <summary>Loads <paramref name="file"/> and waits for its load event (images and scripts done).</summary>
    public void Navigate(string file)
    {
        lock (gate)
        {
            errors.Clear();
            requests.Clear();
            loaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        Send("Page.navigate", new JsonObject { ["url"] = new Uri(Path.GetFullPath(file)).AbsoluteUri });
        if (!loaded.Task.Wait(Patience))
        {
            throw new TimeoutException($"{file} did not finish loading within {Patience.TotalSeconds} s.");
        }
    }

    /// <summary>Runs a script in the page and returns its value as JSON (promises awaited).</summary>
    public JsonNode? Evaluate(string script)
    {
        JsonObject result = Send("Runtime.evaluate", new JsonObject
        {
            ["expression"] = script,
            ["returnByValue"] = true,
            ["awaitPromise"] = true,
        });
        if (result["exceptionDetails"] is JsonObject exception)
        {
            throw new InvalidOperationException($"The script failed in the page: {exception.ToJsonString()}");
        }
        return result["result"]?["value"]?.DeepClone();
    }

    /// <summary>The page as it is now: DOM, errors so far, requests so far and a screenshot.</summary>
    public PageLoad Capture()
    {
        string dom = Evaluate("document.documentElement.outerHTML")?.GetValue<string>() ?? "";
        string data = Send("Page.captureScreenshot", new JsonObject { ["format"] = "png" })["data"]!.GetValue<string>();
        lock (gate)
        {
            return new PageLoad(dom, [.. errors], [.. requests], Convert.FromBase64String(data));
        }
    }

    /// <summary>Loads <paramref name="file"/> in a fresh browser and captures it.</summary>
    public static PageLoad Load(string file, int width = 1400, int height = 900)
    {
        using HeadlessChromium browser = Start(width, height);
        browser.Navigate(file);
        return browser.Capture();
    }

    /// <summary>The rendered DOM of <paramref name="file"/> once loaded, in a fresh browser.</summary>
    public static string DumpDom(string file) => Load(file).Dom;

    /// <summary>Writes a PNG screenshot of <paramref name="file"/> (a viewport of the given size) to <paramref name="png"/> and returns its path.</summary>
    public static string Screenshot(string file, string png, int width = 1000, int height = 700)
    {
        File.WriteAllBytes(png, Load(file, width, height).Screenshot);
        return png;
    }

    /// <summary>Ends the browser and removes its profile.</summary>
    public void Dispose()
    {
        stop.Cancel();
        try
        {
            if (socket.State == WebSocketState.Open)
            {
                socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None).Wait(TimeSpan.FromSeconds(2));
            }
        }
        catch (Exception ex) when (ex is AggregateException or WebSocketException or ObjectDisposedException)
        {
            // The browser goes anyway.
        }
        socket.Dispose();
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It had already ended.
        }
        process.Dispose();
        try
        {
            Directory.Delete(profile, recursive: true);
        }
        catch (IOException)
        {
            // A child that has not quite ended may still hold a file; the temporary folder is cleaned up later.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private void Connect()
    {
        string portFile = Path.Combine(profile, "DevToolsActivePort");
        var clock = Stopwatch.StartNew();
        string[]? lines = null;
        while (clock.Elapsed < Patience)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{Executable} ended at once with exit code {process.ExitCode}.");
            }
            if (File.Exists(portFile) && File.ReadAllLines(portFile) is { Length: >= 2 } read)
            {
                lines = read;
                break;
            }
            Thread.Sleep(100);
        }
        if (lines is null)
        {
            throw new TimeoutException($"Chromium wrote no DevToolsActivePort within {Patience.TotalSeconds} s.");
        }
        using var http = new HttpClient { Timeout = Patience };
        JsonArray targets = JsonNode.Parse(http.GetStringAsync($"http://127.0.0.1:{lines[0].Trim()}/json/list").Result)!.AsArray();
        string url = targets.Select(t => t!.AsObject()).First(t => t["type"]?.GetValue<string>() == "page")["webSocketDebuggerUrl"]!.GetValue<string>();
        socket.ConnectAsync(new Uri(url), CancellationToken.None).Wait(Patience);
        receiver = Task.Run(Receive);
        Send("Page.enable", []);
        Send("Runtime.enable", []);
        Send("Log.enable", []);
        Send("Network.enable", []);
    }

    private JsonObject Send(string method, JsonObject parameters)
    {
        var done = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        int id;
        lock (gate)
        {
            id = ++nextId;
            pending[id] = done;
        }
        byte[] message = Encoding.UTF8.GetBytes(new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters }.ToJsonString());
        lock (socket)
        {
            socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).Wait(Patience);
        }
        if (!done.Task.Wait(Patience))
        {
            throw new TimeoutException($"Chromium did not answer {method} within {Patience.TotalSeconds} s.");
        }
        JsonObject reply = done.Task.Result;
        if (reply["error"] is JsonNode error)
        {
            throw new InvalidOperationException($"Chromium refused {method}: {error.ToJsonString()}");
        }
        return reply["result"]?.AsObject() ?? [];
    }

    private async Task Receive()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (!stop.IsCancellationRequested && socket.State == WebSocketState.Open)
            {
                WebSocketReceiveResult part = await socket.ReceiveAsync(buffer, stop.Token);
                if (part.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                message.Write(buffer, 0, part.Count);
                if (!part.EndOfMessage)
                {
                    continue;
                }
                JsonObject received = JsonNode.Parse(message.ToArray())!.AsObject();
                message.SetLength(0);
                Dispatch(received);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // The browser or the test ended the connection.
        }
    }

    // A field of a JSON object as text, or null.
    private static string? Field(JsonNode? node, string name) => node is JsonObject o && o[name] is JsonNode value ? value.ToString() : null;

    // A console argument as text: its value, or the description of an object.
    private static string? Describe(JsonNode? argument)
    {
        if (argument is null)
        {
            return null;
        }
        return argument["value"]?.ToString() ?? argument["description"]?.ToString();
    }

    private void Dispatch(JsonObject received)
    {
        lock (gate)
        {
            if (received["id"] is JsonNode id && pending.Remove(id.GetValue<int>(), out TaskCompletionSource<JsonObject>? waiting))
            {
                waiting.TrySetResult(received);
                return;
            }
            JsonNode? parameters = received["params"];
            string? method = received["method"]?.GetValue<string>();
            if (method == "Page.loadEventFired")
            {
                loaded.TrySetResult();
            }
            else if (method == "Runtime.consoleAPICalled" && Field(parameters, "type") is "error" or "assert")
            {
                errors.Add("console: " + string.Join(" ", parameters!["args"]!.AsArray().Select(Describe)));
            }
            else if (method == "Runtime.exceptionThrown")
            {
                JsonNode? details = parameters is null ? null : parameters["exceptionDetails"];
                JsonNode? exception = details is null ? null : details["exception"];
                errors.Add("exception: " + (Field(exception, "description") ?? Field(details, "text")));
            }
            else if (method == "Log.entryAdded" && parameters is not null && Field(parameters["entry"], "level") == "error")
            {
                errors.Add("log: " + Field(parameters["entry"], "text") + " " + Field(parameters["entry"], "url"));
            }
            else if (method == "Network.requestWillBeSent" && parameters is not null)
            {
                requests.Add(Field(parameters["request"], "url") ?? "");
            }
        }
    }
}
