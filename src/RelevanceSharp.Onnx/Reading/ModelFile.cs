using Google.Protobuf;
using RelevanceSharp.Onnx.Protos;

namespace RelevanceSharp.Onnx.Reading;

/// <summary>
/// Reads an ONNX file into its protobuf messages with the maintained protobuf runtime, after checking that it is a
/// regular file within the size limit. Every problem is one <see cref="InvalidDataException"/> naming the file.
/// </summary>
internal static class ModelFile
{
    /// <summary>The oldest and newest version of the standard operator set the importer understands.</summary>
    public const int MinOpset = 7;

    /// <inheritdoc cref="MinOpset"/>
    public const int MaxOpset = 21;

    /// <summary>Reads and parses the file.</summary>
    public static ModelProto Read(string path, OnnxLimits limits)
    {
        byte[] bytes = IO.InputFile.ReadAll(path, "ONNX model", limits.MaxFileBytes);
        return Parse(bytes, path);
    }

    /// <summary>Parses the bytes of a model; <paramref name="source"/> names them in messages.</summary>
    public static ModelProto Parse(byte[] bytes, string source)
    {
        try
        {
            // The runtime bounds nesting (100 levels) and checks every length against the bytes that remain.
            ModelProto model = ModelProto.Parser.ParseFrom(bytes);
            if (model.Graph is null)
            {
                throw Errors.File(source, bytes.Length == 0 ? "the file is empty" : "it holds no graph (not an ONNX model?)");
            }
            return model;
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw Errors.File(source, $"it is not a valid ONNX (protobuf) file: {OneLine(ex.Message)}");
        }
    }

    /// <summary>The version of the standard operator set the model imports, checked against the supported range.</summary>
    public static int Opset(ModelProto model, string source)
    {
        long? version = null;
        foreach (OperatorSetIdProto entry in model.OpsetImport)
        {
            if (entry.Domain is "" or "ai.onnx")
            {
                if (version is not null && version != entry.Version)
                {
                    throw Errors.File(source, $"it imports the standard operator set twice, as versions {version} and {entry.Version}");
                }
                version = entry.Version;
            }
        }
        if (version is null)
        {
            // IR version 3 and later must list their operator sets; files without the list predate opset 7.
            throw Errors.File(source, "it declares no version of the standard operator set (opset_import)");
        }
        if (version < MinOpset || version > MaxOpset)
        {
            throw Errors.File(source,
                $"it uses operator set version {version}; supported are versions {MinOpset} to {MaxOpset} (re-export with opset_version between them)");
        }
        return (int)version.Value;
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
