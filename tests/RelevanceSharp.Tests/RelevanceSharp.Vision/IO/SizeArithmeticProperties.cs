using System.Numerics;
using System.Text;
using CsCheck;
using RelevanceSharp.IO;
using RelevanceSharp.Vision.Imaging;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.IO;

/// <summary>
/// Properties of the size and offset arithmetic of the readers, checked on generated values against an exact oracle
/// in arbitrary-precision integers: a reader accepts exactly what the oracle accepts, and refuses the rest with its
/// one documented exception, never with an overflow or an out-of-range error.
/// </summary>
public class SizeArithmeticProperties
{
    // Dimensions from tiny to far past 2^63 when multiplied, with the edges most likely to wrap.
    private static readonly Gen<long> Dimension = Gen.Frequency(
        (4, (IGen<long>)Gen.Long[0, 6]),
        (2, Gen.Long[0, long.MaxValue]),
        (1, Gen.OneOf(1L << 31, (1L << 32) + 1, 1L << 62, long.MaxValue, -1L, int.MaxValue + 1L)));

    private static readonly Gen<string> DataType = Gen.OneOf("F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL");

    private static int Size(string dtype) => dtype switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        _ => 1,
    };

    [Fact]
    public void ASafetensorsEntryIsAcceptedExactlyWhenItsShapeFitsItsOffsetsAndTheData()
    {
        Gen.Select(DataType, Dimension.Array[0, 4], Dimension, Dimension, Gen.Int[0, 64]).Sample((dtype, shape, begin, length, data) =>
        {
            long end = begin + length; // may wrap: then the header carries a negative number, which must be refused
            string header = $$$"""{"t":{"dtype":"{{{dtype}}}","shape":[{{{string.Join(",", shape)}}}],"data_offsets":[{{{begin}}},{{{end}}}]}}""";
            byte[] json = Encoding.UTF8.GetBytes(header);
            byte[] bytes = new byte[8 + json.Length + data];
            BitConverter.TryWriteBytes(bytes, (ulong)json.Length);
            json.CopyTo(bytes, 8);

            // Representable: the non-zero dimensions and the element size multiply within 63 bits.
            BigInteger nonZero = shape.Where(d => d != 0).Aggregate(BigInteger.One, (a, d) => a * d) * Size(dtype);
            BigInteger needed = shape.Contains(0) ? BigInteger.Zero : nonZero;
            bool valid = shape.All(d => d >= 0) && nonZero <= long.MaxValue && begin >= 0 && end >= begin && end <= data && needed == end - begin;

            Exception? error = Record.Exception(() => SafeTensors.ReadHeader(bytes, "p.safetensors"));
            if (valid)
            {
                Assert.Null(error);
            }
            else
            {
                Assert.IsType<InvalidDataException>(error);
            }
        }, iter: 2000);
    }

    [Fact]
    public void AnImageIsRefusedByItsHeaderExactlyWhenItHasTooManyPixels()
    {
        Gen<uint> side = Gen.Frequency((3, (IGen<uint>)Gen.UInt[1, 1_000_000]), (1, Gen.UInt[1, int.MaxValue]));
        Gen.Select(side, side, Gen.Long[1, 4096]).Sample((width, height, limit) =>
        {
            byte[] png = CraftedFiles.Png(width, height);
            // The crafted file has no pixel data, so it is always refused: by the limit exactly when it is too large
            // (or earlier, by the decoder's own header check), and never by the limit when it fits.
            var error = Assert.Throws<InvalidDataException>(() => ImageIO.Decode(png, source: "p.png", maxPixels: limit));
            bool tooLarge = (BigInteger)width * height > limit;
            bool byLimit = error.Message.Contains("more than the limit", StringComparison.Ordinal);
            Assert.True(tooLarge || !byLimit, $"{width}x{height} within {limit} refused by the limit");
            // libpng itself refuses sides above a million pixels before the limit is reached; below that, a header
            // with too many pixels is always refused by the limit.
            bool decoderAccepts = width <= 1_000_000 && height <= 1_000_000;
            Assert.True(!tooLarge || !decoderAccepts || byLimit, $"{width}x{height} over {limit}: {error.Message}");
        }, iter: 300);
    }

    [Fact]
    public void AResizeIsRefusedExactlyWhenItsResultExceedsTheLimit()
    {
        Gen.Select(Gen.Int[1, 40], Gen.Int[1, 40], Gen.Int[1, int.MaxValue], Gen.Long[1, 20000]).Sample((height, width, side, limit) =>
        {
            using var scope = NewDisposeScope();
            // The result's size as Resize defines it (shorter side to `side`, the other truncated), exactly.
            (BigInteger h, BigInteger w) = height <= width
                ? ((BigInteger)side, (BigInteger)Math.Floor((double)side * width / height))
                : ((BigInteger)Math.Floor((double)side * height / width), (BigInteger)side);
            bool refused = h * w > limit;
            Exception? error = Record.Exception(() => ImageTransforms.Resize(zeros(1, height, width), side, limit).Dispose());
            if (refused)
            {
                Assert.IsType<ArgumentException>(error);
            }
            else
            {
                Assert.Null(error);
            }
        }, iter: 300);
    }
}
