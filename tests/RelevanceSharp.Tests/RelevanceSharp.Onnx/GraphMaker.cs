using Google.Protobuf;
using RelevanceSharp.Onnx.Protos;

namespace RelevanceSharp.Tests.Onnx;

/// <summary>Writes small ONNX models for the tests, with the importer's own protobuf classes.</summary>
internal sealed class GraphMaker
{
    private readonly ModelProto model;
    private int counter;

    public GraphMaker(int opset)
    {
        model = new ModelProto { IrVersion = 8, ProducerName = "RelevanceSharp.Tests", Graph = new GraphProto { Name = "test" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
    }

    public GraphProto Graph => model.Graph;

    public ModelProto Model => model;

    /// <summary>A float input; a dimension given as a string is symbolic.</summary>
    public GraphMaker Input(string name, params object[] dims) => Value(model.Graph.Input, name, 1, dims);

    /// <summary>A graph output (shape left unknown).</summary>
    public GraphMaker Output(string name)
    {
        model.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        return this;
    }

    private GraphMaker Value(Google.Protobuf.Collections.RepeatedField<ValueInfoProto> list, string name, int type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object d in dims)
        {
            shape.Dim.Add(d is string symbol ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) });
        }
        list.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = type, Shape = shape } } });
        return this;
    }

    /// <summary>A float initializer (raw data) of the given shape; values default to a fixed pseudo-random sequence.</summary>
    public string Floats(long[] dims, double[]? values = null, string? name = null)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        values ??= Support.Values((int)count, (ulong)(++counter * 7919));
        name ??= "w" + ++counter;
        model.Graph.Initializer.Add(FloatTensor(name, dims, values));
        return name;
    }

    /// <summary>An int64 initializer.</summary>
    public string Ints(params long[] values) => IntsShaped([values.Length], values);

    /// <summary>An int64 initializer of a given shape.</summary>
    public string IntsShaped(long[] dims, long[] values)
    {
        string name = "i" + ++counter;
        var tensor = new TensorProto { Name = name, DataType = 7 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        model.Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>A float scalar initializer.</summary>
    public string Scalar(double value)
    {
        string name = "s" + ++counter;
        model.Graph.Initializer.Add(FloatTensor(name, [], [value]));
        return name;
    }

    public static TensorProto FloatTensor(string name, long[] dims, double[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = 1 };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(values.SelectMany(v => BitConverter.GetBytes((float)v)).ToArray());
        return tensor;
    }

    /// <summary>Adds a node; returns its first output's name (made up when not given).</summary>
    public string Node(string op, string[] inputs, params AttributeProto[] attributes) => NodeWithOutputs(op, inputs, 1, attributes)[0];

    /// <summary>Adds a node with several outputs.</summary>
    public string[] NodeWithOutputs(string op, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = op + "_" + ++counter };
        node.Input.AddRange(inputs);
        string[] names = Enumerable.Range(0, outputs).Select(i => $"{node.Name}_out{i}").ToArray();
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        model.Graph.Node.Add(node);
        return names;
    }

    public byte[] Bytes() => model.ToByteArray();

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = 2, I = value };

    public static AttributeProto Float(string name, double value) => new() { Name = name, Type = 1, F = (float)value };

    public static AttributeProto String(string name, string value) => new() { Name = name, Type = 3, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = 7 };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto Floats(string name, params float[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = 6 };
        attribute.Floats.AddRange(values);
        return attribute;
    }

    public static AttributeProto Tensor(string name, TensorProto value) => new() { Name = name, Type = 4, T = value };
}
