using TorchSharp;
using TorchSharp.Modules;
using static RelevanceSharp.Tests.Support;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Attribution;

/// <summary>
/// A network small enough to attribute by hand: "0" Conv2d(1 -> 2, 2x2, stride 2, no bias), "1" ReLU, "2" Flatten,
/// "3" Linear(8 -> 2, no bias), for one 4x4 image. The arithmetic the tests rely on is written out here once.
/// </summary>
/// <remarks>
/// <code>
/// x = [[1, 2, 0, 1],      kernel 0 = [[1, 0],    kernel 1 = [[ 0, 1],
///      [0, 1, 3, 0],                 [0, 1]]                 [-1, 0]]
///      [2, 0, 1, 1],
///      [1, 1, 0, 2]]
/// Each 2x2 block (top left TL, TR, BL, BR) gives channel 0 = its diagonal sum, channel 1 = top right - bottom left:
///   TL [[1,2],[0,1]]: 2, 2    TR [[0,1],[3,0]]: 0, -2    BL [[2,0],[1,1]]: 3, -1    BR [[1,1],[0,2]]: 3, 1
/// A0 = [[2, 0], [3, 3]]   A1 = [[2, -2], [-1, 1]]          (layer "0")
/// R0 = [[2, 0], [3, 3]]   R1 = [[2,  0], [ 0, 1]]          (layer "1", the ReLU)
/// Linear rows, in flatten order (channel, row, column):
///   class 0: [-1, 0, 0, 0,  0, 0, 0, 0]
///   class 1: [ 1, 2, 0, -1,  0.5, 0.5, -1, 1]
/// f_1 = 1*2 + 2*0 + 0*3 - 1*3 + 0.5*2 + 0.5*0 - 1*0 + 1*1 = 1;   f_0 = -2.
/// The gradient of f_1 at the ReLU's output is the row itself: G0 = [[1, 2], [0, -1]], G1 = [[0.5, 0.5], [-1, 1]].
/// At the convolution's output the ReLU masks it (A > 0): [[1, 0], [0, -1]] and [[0.5, 0], [0, 1]].
/// Back to the input each output position hands its block g0 * kernel 0 + g1 * kernel 1:
///   TL: 1 * K0 + 0.5 * K1 = [[1, 0.5], [-0.5, 1]];  TR, BL: 0;  BR: -1 * K0 + 1 * K1 = [[-1, 1], [-1, -1]]
/// df_1/dx = [[ 1,  0.5,  0,  0],
///            [-0.5, 1,   0,  0],
///            [ 0,   0,  -1,  1],
///            [ 0,   0,  -1, -1]]
/// </code>
/// </remarks>
internal static class HandConvNet
{
    public static readonly double[] Image = [1, 2, 0, 1, 0, 1, 3, 0, 2, 0, 1, 1, 1, 1, 0, 2];

    /// <summary>df_1/dx, worked out in the remarks.</summary>
    public static readonly double[] GradientOfClass1 = [1, 0.5, 0, 0, -0.5, 1, 0, 0, 0, 0, -1, 1, 0, 0, -1, -1];

    public static Tensor Input() => T(Image, 1, 1, 4, 4);

    public static Sequential Create()
    {
        Conv2d conv = Conv2d([1, 0, 0, 1, 0, 1, -1, 0], [2, 1, 2, 2], null, stride: 2);
        Linear linear = Linear(new double[,] { { -1, 0, 0, 0, 0, 0, 0, 0 }, { 1, 2, 0, -1, 0.5, 0.5, -1, 1 } }, null);
        return nn.Sequential(("0", conv), ("1", nn.ReLU()), ("2", nn.Flatten()), ("3", linear));
    }
}
