using System.Collections;
using System.Text;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.Imaging;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace RelevanceSharp.Fuzz;

/// <summary>Writes the seed corpus: one small valid input per reader, made with the project's own writers.</summary>
public static class Seeds
{
    /// <summary>Writes <c>DIR/HARNESS/*</c> for every harness.</summary>
    public static void Write(string root)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        string Folder(string harness) => Directory.CreateDirectory(Path.Combine(root, harness)).FullName;

        ImageIO.SavePng(Path.Combine(Folder("image"), "color-5x3.png"), rand(3, 3, 5));
        ImageIO.SavePng(Path.Combine(Folder("image"), "gray-4x4.png"), rand(1, 4, 4));

        var tensors = new Dictionary<string, Tensor> { ["weight"] = randn(2, 3), ["bias"] = zeros(2), ["steps"] = tensor(new long[] { 7 }) };
        File.WriteAllBytes(Path.Combine(Folder("safetensors"), "small.safetensors"), SafeTensors.Encode(tensors));

        var stateDict = new Hashtable { ["weight"] = randn(2, 3), ["bias"] = zeros(2) };
        PyTorchPickler.PickleStateDict(Path.Combine(Folder("pth"), "small.pth"), stateDict);

        File.WriteAllText(Path.Combine(Folder("model-json"), "sequential.json"),
            """{"arch":"sequential","layers":[{"type":"conv2d","in":3,"out":4,"kernel":3,"padding":1},{"type":"batchnorm2d","features":4},{"type":"relu"},{"type":"flatten"},{"type":"linear","in":64,"out":2}]}""",
            Encoding.UTF8);
        File.WriteAllText(Path.Combine(Folder("cases-json"), "cases.json"),
            """{"dtype":"float32","input":"input","output":"output","tolerance":{"rtol":1e-5,"atol":1e-7},"cases":[{"name":"gradient","composite":null,"canonizers":[],"attributor":{"name":"gradient"},"target":1,"expected":"gradient"}]}""",
            Encoding.UTF8);
    }
}
