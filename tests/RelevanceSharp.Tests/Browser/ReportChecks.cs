using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Browser;

/// <summary>What every report must show in a browser: no errors, nothing from a network, loaded images, a screenshot with something on it.</summary>
internal static class ReportChecks
{
    /// <summary>Checks <paramref name="page"/> and returns the number of images the browser loaded.</summary>
    public static int Check(HeadlessChromium browser, PageLoad page, int expectedImages)
    {
        Assert.True(page.ConsoleErrors.Count == 0, "console errors: " + string.Join(" | ", page.ConsoleErrors));
        Assert.All(page.Requests, url => Assert.True(url.StartsWith("file://", StringComparison.Ordinal) || url.StartsWith("data:", StringComparison.Ordinal),
            $"the page requested {url}"));
        int images = browser.Evaluate("document.images.length")!.GetValue<int>();
        int broken = browser.Evaluate("Array.prototype.filter.call(document.images, i => !i.complete || i.naturalWidth === 0).length")!.GetValue<int>();
        Assert.Equal(expectedImages, images);
        Assert.Equal(0, broken);
        AssertNotBlank(page.Screenshot);
        return images;
    }

    /// <summary>A screenshot is not blank: it decodes, and its pixels take many values, not one background colour.</summary>
    public static void AssertNotBlank(byte[] png)
    {
        using var scope = NewDisposeScope();
        Tensor image = ImageIO.Decode(png, source: "screenshot");
        Assert.True(image.shape[1] > 100 && image.shape[2] > 100, $"the screenshot is {image.shape[2]}x{image.shape[1]}");
        Tensor gray = image.to(ScalarType.Float32).mean([0]);
        double spread = gray.std().item<float>();
        long distinct = unique(gray.flatten().mul(Scalars.Of(255)).round()).Item1.numel();
        Assert.True(spread > 0.02 && distinct > 16, $"the screenshot looks blank: standard deviation {spread}, {distinct} gray levels");
    }
}
