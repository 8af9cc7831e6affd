using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>Where a tensor's data lives: two tensors with the same storage address, offset and shape are views of the same values.</summary>
internal static class TensorAddress
{
    /// <summary>The address of the tensor's storage, or <c>null</c> for element types this does not read.</summary>
    public static long? Storage(Tensor tensor) => tensor.dtype switch
    {
        ScalarType.Float32 => (long)tensor.storage<float>().data_ptr(),
        ScalarType.Float64 => (long)tensor.storage<double>().data_ptr(),
        ScalarType.Int64 => (long)tensor.storage<long>().data_ptr(),
        ScalarType.Int32 => (long)tensor.storage<int>().data_ptr(),
        ScalarType.Byte => (long)tensor.storage<byte>().data_ptr(),
        ScalarType.Bool => (long)tensor.storage<bool>().data_ptr(),
        _ => null,
    };

    /// <summary>Whether two tensors view the same values in the same layout.</summary>
    public static bool SameView(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.device_type == b.device_type && a.device_index == b.device_index && a.shape.SequenceEqual(b.shape) && a.stride().SequenceEqual(b.stride())
        && a.storage_offset() == b.storage_offset() && Storage(a) is { } address && address == Storage(b);
}
