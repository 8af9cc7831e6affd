using System.Buffers.Binary;
using System.IO.Compression;
using static TorchSharp.torch;

namespace RelevanceSharp.Vision.Data;

/// <summary>
/// Reads the idx format of MNIST-style datasets (optionally gzip-compressed): a big-endian header with a magic
/// number whose third byte is the element type (0x08 = unsigned byte) and fourth the number of dimensions, the
/// dimension sizes, then the data.
/// </summary>
public static class IdxFile
{
    /// <summary>Reads an idx file of unsigned bytes into a uint8 tensor of the stored shape.</summary>
    public static Tensor ReadBytes(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Dataset file not found: {path}", path);
        }
        using Stream file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        byte[] bytes = buffer.ToArray();
        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0)
        {
            throw new InvalidDataException($"{path} is not an idx file (bad magic number).");
        }
        if (bytes[2] != 0x08)
        {
            throw new InvalidDataException($"{path} holds idx element type 0x{bytes[2]:x2}; only unsigned bytes (0x08) are supported.");
        }
        int dims = bytes[3];
        int headerLength = 4 + 4 * dims;
        if (dims == 0 || bytes.Length < headerLength)
        {
            throw new InvalidDataException($"{path} has a truncated idx header.");
        }
        long[] shape = new long[dims];
        for (int i = 0; i < dims; i++)
        {
            shape[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i, 4));
        }
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (bytes.Length - headerLength != count)
        {
            throw new InvalidDataException($"{path} should hold {count} values after its header but holds {bytes.Length - headerLength}.");
        }
        return tensor(bytes.AsSpan(headerLength).ToArray(), shape, ScalarType.Byte);
    }
}

/// <summary>Fashion-MNIST (Zalando, MIT licence): 28×28 grayscale images of 10 kinds of clothing.</summary>
public sealed class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package puts the files.</summary>
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    private FashionMnist(Tensor images, Tensor labels)
    {
        Images = images;
        Labels = labels;
    }

    /// <summary>Images as uint8, shape (N, 28, 28).</summary>
    public Tensor Images { get; }

    /// <summary>Labels as int64, shape (N).</summary>
    public Tensor Labels { get; }

    /// <summary>Loads the training or test split from a folder holding the four idx files.</summary>
    public static FashionMnist Load(string folder, bool train)
    {
        string prefix = train ? "train" : "t10k";
        string images = Locate(folder, $"{prefix}-images-idx3-ubyte");
        string labels = Locate(folder, $"{prefix}-labels-idx1-ubyte");
        Tensor x = IdxFile.ReadBytes(images);
        Tensor y = IdxFile.ReadBytes(labels).to(ScalarType.Int64);
        if (x.dim() != 3 || y.dim() != 1 || x.shape[0] != y.shape[0])
        {
            throw new InvalidDataException($"{images} and {labels} do not form a dataset of images and labels.");
        }
        return new FashionMnist(x, y);
    }

    private static string Locate(string folder, string name)
    {
        foreach (string candidate in new[] { name + ".gz", name })
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }
        throw new FileNotFoundException(
            $"{Path.Combine(folder, name)}(.gz) not found. Install Debian's dataset-fashion-mnist package or give the folder holding the idx files.");
    }
}
