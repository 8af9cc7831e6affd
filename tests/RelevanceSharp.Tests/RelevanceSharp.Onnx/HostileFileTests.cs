using Google.Protobuf;
using RelevanceSharp.Onnx;
using RelevanceSharp.Onnx.Protos;
using static RelevanceSharp.Tests.Onnx.GraphMaker;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>
/// Damaged and hostile files: each is refused with one <see cref="InvalidDataException"/> line that names the file (and
/// the node, its operator and what is wrong), before anything large is allocated.
/// </summary>
public sealed class HostileFileTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), $"relevancesharp-onnx-hostile-{Guid.NewGuid():N}");

    public HostileFileTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>A valid graph: Conv then Relu on a (N, 2, 5, 5) input.</summary>
    private static GraphMaker Valid(int opset = 13)
    {
        var g = new GraphMaker(opset);
        g.Input("x", "N", 2, 5, 5);
        g.Output(g.Node("Relu", [g.Node("Conv", ["x", g.Floats([3, 2, 3, 3])], Ints("pads", 1, 1, 1, 1))]));
        return g;
    }

    private static string Refused(byte[] bytes, OnnxLoadOptions? options = null)
    {
        var ex = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(bytes, "model.onnx", options).Dispose());
        Assert.DoesNotContain('\n', ex.Message);
        Assert.StartsWith("model.onnx: ", ex.Message, StringComparison.Ordinal);
        return ex.Message;
    }

    private string RefusedFile(byte[] bytes, string name = "model.onnx")
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(path).Dispose());
        Assert.DoesNotContain('\n', ex.Message);
        return ex.Message;
    }

    [Fact]
    public void TheValidGraphLoads()
    {
        using var scope = NewDisposeScope();
        using OnnxModel model = OnnxModel.Load(Valid().Bytes(), "model.onnx");
        Assert.Equal(new long[] { 1, 3, 5, 5 }, model.forward(zeros(1, 2, 5, 5)).shape);
    }

    [Fact]
    public void NotProtobuf() => Assert.Contains("not a valid ONNX (protobuf) file", Refused([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));

    [Fact]
    public void Truncated()
    {
        byte[] bytes = Valid().Bytes();
        Assert.Contains("not a valid ONNX (protobuf) file", Refused(bytes[..(bytes.Length / 2)]));
    }

    [Fact]
    public void EmptyAndNoGraph()
    {
        Assert.Contains("is empty", RefusedFile([]));
        Assert.Contains("holds no graph", Refused(new ModelProto { IrVersion = 8 }.ToByteArray()));
    }

    [Fact]
    public void OperatorSetsOutsideTheRange()
    {
        Assert.Contains("operator set version 6; supported are versions 7 to 21", Refused(Valid(6).Bytes()));
        Assert.Contains("operator set version 99", Refused(Valid(99).Bytes()));
        GraphMaker none = Valid();
        none.Model.OpsetImport.Clear();
        Assert.Contains("declares no version of the standard operator set", Refused(none.Bytes()));
    }

    [Fact]
    public void UnknownOperatorAttributeAndDomain()
    {
        GraphMaker g = Valid();
        g.Graph.Node[1].OpType = "Frobnicate";
        Assert.Contains("node 'Relu_4' (Frobnicate): the operator Frobnicate is not supported", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Node[0].Attribute.Add(Int("frobnication", 1));
        Assert.Contains("node 'Conv_3' (Conv): the attribute 'frobnication' is not supported for Conv at operator set version 11", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Node[0].Attribute.Add(String("group", "two"));
        Assert.Contains("node 'Conv_3' (Conv): the attribute 'group' must be of type int, not string", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Node[1].Domain = "com.example";
        Assert.Contains("node 'Relu_4' (com.example.Relu): operators of the domain 'com.example' are not supported", Refused(g.Bytes()));

        // An operator that exists, but not at this version.
        g = Valid(9);
        g.Graph.Node[1].OpType = "HardSwish";
        Assert.Contains("the operator HardSwish is not defined at operator set version 9", Refused(g.Bytes()));
    }

    [Fact]
    public void ConvWithAWeightThatDoesNotFit()
    {
        var g = new GraphMaker(13);
        g.Input("x", 1, 2, 5, 5);
        g.Output(g.Node("Conv", ["x", g.Floats([3, 4, 3, 3])]));
        Assert.Contains("node 'Conv_3' (Conv): its weight of shape [3, 4, 3, 3] with 1 groups does not fit an input of 2 channels", Refused(g.Bytes()));
    }

    [Fact]
    public void MatMulShapesThatDoNotFitAreRefusedNotFatal()
    {
        // libtorch ends the process on a matmul shape mismatch; the importer checks first.
        var g = new GraphMaker(13);
        g.Input("x", 1, 2, 5);
        g.Output(g.Node("MatMul", ["x", g.Node("Transpose", ["x"], Ints("perm", 0, 1, 2))]));
        Assert.Contains("cannot multiply matrices of shapes [1, 2, 5] and [1, 2, 5]", Refused(g.Bytes()));

        g = new GraphMaker(13);
        g.Input("x", 1, 2, 5);
        g.Output(g.Node("MatMul", ["x", g.Floats([4, 3])]));
        Assert.Contains("cannot multiply matrices", Refused(g.Bytes()));

        g = new GraphMaker(13);
        g.Input("x", 3, 5);
        g.Output(g.Node("Gemm", ["x", g.Floats([4, 3])], Int("transB", 1)));
        Assert.Contains("does not fit an A of 5 columns", Refused(g.Bytes()));
    }

    [Fact]
    public void TensorDataThatDoesNotFitItsShape()
    {
        GraphMaker g = Valid();
        g.Graph.Initializer[0].RawData = ByteString.CopyFrom(new byte[10]);
        Assert.Contains("initializer 'w2' has 10 bytes of raw data; its shape [3, 2, 3, 3] of float needs 216", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Initializer[0].Dims[0] = 1L << 40;
        Assert.Contains("too many elements", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Initializer[0].Dims[0] = -3;
        Assert.Contains("has a negative dimension (-3)", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Initializer[0].FloatData.Add(1f);
        Assert.Contains("holds its values in more than one place", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Initializer[0].DataType = 8;
        Assert.Contains("has element type string, which is not supported", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Initializer[0].Segment = new TensorProto.Types.Segment { Begin = 0, End = 1 };
        Assert.Contains("stored in segments", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Initializer[0].ClearRawData();
        Assert.Contains("has 0 values for its shape [3, 2, 3, 3] of 54 elements", Refused(g.Bytes()));

        // A tensor within the element bound but over the byte limit is refused before it is read.
        g = Valid();
        Assert.Contains("more than the limit of 100", Refused(g.Bytes(), new OnnxLoadOptions { Limits = new OnnxLimits { MaxTensorBytes = 100 } }));
    }

    [Fact]
    public void GraphStructure()
    {
        GraphMaker g = Valid();
        g.Graph.Node[0].Input[0] = g.Graph.Node[1].Output[0];
        Assert.Contains("it is part of a cycle", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Node[1].Input[0] = "nowhere";
        Assert.Contains("node 'Relu_4' (Relu): its input 'nowhere' is not defined by any node, input or initializer", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Node[1].Output[0] = g.Graph.Node[0].Output[0];
        Assert.Contains("is already defined by another node", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Node[0].Output[0] = "x";
        Assert.Contains("its output 'x' is already defined by another node, an input or an initializer", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Output[0].Name = "missing";
        Assert.Contains("the graph output 'missing' is not computed by any node", Refused(g.Bytes()));

        g = Valid();
        g.Graph.Initializer.Add(g.Graph.Initializer[0].Clone());
        Assert.Contains("the initializer 'w2' is defined twice", Refused(g.Bytes()));

        g = Valid();
        Assert.Contains("more than the limit of 1", Refused(g.Bytes(), new OnnxLoadOptions { Limits = new OnnxLimits { MaxNodes = 1 } }));

        g = Valid();
        g.Graph.SparseInitializer.Add(ByteString.CopyFrom(1, 2, 3));
        Assert.Contains("sparse initializers", Refused(g.Bytes()));
    }

    [Fact]
    public void InputsAndOutputsAreNamedWhenAChoiceIsNeeded()
    {
        var g = new GraphMaker(13);
        g.Input("image", 1, 2, 4, 4);
        g.Input("mask", 1, 2, 4, 4);
        string relu = g.Node("Relu", ["image"]);
        string sigmoid = g.Node("Sigmoid", ["mask"]);
        g.Output(relu);
        g.Output(sigmoid);
        Assert.Contains("its graph has 2 inputs; choose one (--input): image, mask", Refused(g.Bytes()));
        Assert.Contains("its graph has 2 outputs; choose one (--output): Relu_1_out0, Sigmoid_2_out0",
            Refused(g.Bytes(), new OnnxLoadOptions { Input = "image" }));
        Assert.Contains("it has no input 'nose'; its inputs: image, mask", Refused(g.Bytes(), new OnnxLoadOptions { Input = "nose" }));
        Assert.Contains("depends on the input 'mask' as well as on 'image'",
            Refused(g.Bytes(), new OnnxLoadOptions { Input = "image", Output = sigmoid }));
        using var scope = NewDisposeScope();
        using OnnxModel model = OnnxModel.Load(g.Bytes(), "model.onnx", new OnnxLoadOptions { Input = "mask", Output = sigmoid });
        Assert.Equal(0.5f, model.forward(zeros(1, 2, 4, 4)).mean().item<float>());
        Assert.Equal(["image", "mask"], model.Inputs.Select(i => i.Name));
    }

    [Fact]
    public void InputsThatCannotBeExplained()
    {
        var g = new GraphMaker(13);
        g.Input("x", "N", 3, "height", "width");
        g.Output(g.Node("Relu", ["x"]));
        Assert.Contains("its input 'x' leaves dimension 2 open ('height'); give the input shape", Refused(g.Bytes()));
        Assert.Contains("has size 3 in dimension 1, fixed by the graph; the given input shape asks for 4",
            Refused(g.Bytes(), new OnnxLoadOptions { InputShape = [4, 8, 8] }));
        Assert.Contains("too many elements", Refused(g.Bytes(), new OnnxLoadOptions { InputShape = [3, 1L << 20, 1L << 20] }));
        g.Graph.Input[0].Type.TensorType.ElemType = 7;
        Assert.Contains("has element type int64; only float inputs can be explained", Refused(g.Bytes(), new OnnxLoadOptions { InputShape = [3, 8, 8] }));
    }

    [Fact]
    public void ComputedSizesAreBoundedBeforeAllocation()
    {
        var g = new GraphMaker(13);
        g.Input("x", 1, 2, 4, 4);
        g.Output(g.Node("Expand", ["x", g.Ints(1 << 30, 2, 4, 4)]));
        Assert.Contains("more than 268,435,456 elements", Refused(g.Bytes()));

        g = new GraphMaker(13);
        g.Input("x", 1, 2, 4, 4);
        g.Output(g.Node("Add", ["x", g.Node("ConstantOfShape", [g.Ints(1 << 30, 1 << 30)])]));
        Assert.Contains("more than 268,435,456 elements", Refused(g.Bytes()));

        g = new GraphMaker(13);
        g.Input("x", 1, 2, 4, 4);
        g.Output(g.Node("Pad", ["x", g.Ints(0, 0, 1 << 24, 0, 0, 0, 1 << 24, 0)]));
        Assert.Contains("more than 268,435,456 elements", Refused(g.Bytes()));

        g = new GraphMaker(13);
        g.Input("x", 1, 2, 4, 4);
        g.Output(g.Node("Pad", ["x", g.Ints(0, 0, 1 << 26, 0, 0, 0, -(1 << 26), 0)]));
        Assert.Contains("its pads are implausibly large", Refused(g.Bytes()));

        g = new GraphMaker(13);
        g.Input("x", 1, 2, 4, 4);
        g.Output(g.Node("ConvTranspose", ["x", g.Floats([2, 2, 3, 3])], Ints("strides", 1 << 19, 1 << 19)));
        Assert.Contains("more than 268,435,456 elements", Refused(g.Bytes()));

        g = new GraphMaker(13);
        g.Input("x", 1, 2, 4, 4);
        g.Output(g.Node("Reshape", ["x", g.Ints(3, -1)]));
        Assert.Contains("node 'Reshape_2' (Reshape): it cannot be computed on the fixed input shape: Reshape: cannot reshape [1, 2, 4, 4] to [3, -1]", Refused(g.Bytes()));
    }

    [Fact]
    public void ExternalDataStaysBesideTheModel()
    {
        byte[] weights = new float[54].SelectMany(BitConverter.GetBytes).ToArray();
        File.WriteAllBytes(Path.Combine(folder, "weights.bin"), weights);
        byte[] With(string location, long offset = 0, long? length = null)
        {
            GraphMaker g = Valid();
            TensorProto w = g.Graph.Initializer[0];
            w.ClearRawData();
            w.DataLocation = 1;
            w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
            w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            if (length is { } l)
            {
                w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = l.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            }
            return g.Bytes();
        }
        using (var scope = NewDisposeScope())
        {
            string good = Path.Combine(folder, "good.onnx");
            File.WriteAllBytes(good, With("weights.bin", 0, 216));
            OnnxModel.Load(good).Dispose();
        }
        Assert.Contains("is not a plain relative path beside the model", RefusedFile(With("/etc/passwd")));
        Assert.Contains("may not contain empty, '.' or '..' segments", RefusedFile(With("../weights.bin")));
        Assert.Contains("may not contain empty, '.' or '..' segments", RefusedFile(With("sub/../weights.bin")));
        Assert.Contains("does not exist beside the model", RefusedFile(With("other.bin")));
        Assert.Contains("has 200 bytes of external data; its shape and type need 216", RefusedFile(With("weights.bin", 0, 200)));
        Assert.Contains("are past its end", RefusedFile(With("weights.bin", 100, 216)));
        Assert.Contains("not a non-negative integer", RefusedFile(With("weights.bin", -5, 216)));

        // A link out of the folder, directly or through a linked folder.
        string outside = Path.Combine(Path.GetTempPath(), $"relevancesharp-onnx-outside-{Guid.NewGuid():N}");
        Directory.CreateDirectory(outside);
        try
        {
            File.WriteAllBytes(Path.Combine(outside, "weights.bin"), weights);
            File.CreateSymbolicLink(Path.Combine(folder, "linked.bin"), Path.Combine(outside, "weights.bin"));
            Directory.CreateSymbolicLink(Path.Combine(folder, "sub"), outside);
            Assert.Contains("outside the model's folder", RefusedFile(With("linked.bin", 0, 216)));
            Assert.Contains("outside the model's folder", RefusedFile(With("sub/weights.bin", 0, 216)));
            // A link that stays inside the folder is fine.
            File.CreateSymbolicLink(Path.Combine(folder, "inside.bin"), "weights.bin");
            using var scope = NewDisposeScope();
            string ok = Path.Combine(folder, "inside.onnx");
            File.WriteAllBytes(ok, With("inside.bin", 0, 216));
            OnnxModel.Load(ok).Dispose();
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }

        // Without a folder (a model given as bytes) nothing external is read.
        Assert.Contains("only a model read from a file (beside it) can use", Refused(With("weights.bin")));
    }

    [Fact]
    public void DevicesAndFoldersAreNotModels()
    {
        Assert.Throws<InvalidDataException>(() => OnnxModel.Load(folder));
        if (File.Exists("/dev/zero"))
        {
            Assert.Contains("device or system file", Assert.Throws<InvalidDataException>(() => OnnxModel.Load("/dev/zero")).Message);
        }
        Assert.Throws<FileNotFoundException>(() => OnnxModel.Load(Path.Combine(folder, "absent.onnx")));
    }
}
