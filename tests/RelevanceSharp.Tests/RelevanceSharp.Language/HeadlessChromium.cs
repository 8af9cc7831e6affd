using System.Diagnostics;

namespace RelevanceSharp.Tests.Language;

/// <summary>Debian's Chromium without a window: the DOM a page builds, and a screenshot of it.</summary>
internal static class HeadlessChromium
{
    public const string Executable = "/usr/bin/chromium";

    public static bool Available => File.Exists(Executable);

    /// <summary>The serialized DOM after Chromium loaded the page.</summary>
    public static string DumpDom(string page) => Run(page, "--dump-dom");

    /// <summary>Writes a screenshot of the page (a PNG of the given size) and returns its path.</summary>
    public static string Screenshot(string page, string png, int width = 1000, int height = 700)
    {
        Run(page, $"--screenshot={png}", $"--window-size={width},{height}");
        return png;
    }

    private static string Run(string page, params string[] arguments)
    {
        string profile = Directory.CreateTempSubdirectory("chromium-profile-").FullName;
        try
        {
            var start = new ProcessStartInfo(Executable)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string argument in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", $"--user-data-dir={profile}",
            }.Concat(arguments).Append(new Uri(Path.GetFullPath(page)).AbsoluteUri))
            {
                start.ArgumentList.Add(argument);
            }
            using Process process = Process.Start(start) ?? throw new InvalidOperationException("chromium did not start");
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            Task<string> error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("chromium did not finish within two minutes");
            }
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"chromium exited with {process.ExitCode}: {error.Result}");
            }
            return output.Result;
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }
}
