namespace RelevanceSharp.Tests.Rules;

/// <summary>
/// An affine layer written out as plain numbers: <c>y_j = sum over connections (j, i, w) of w * x_i + b_j</c>, one
/// sample at a time. Linear layers, convolutions, average pools and sums are all of this form; the expected
/// relevances of the rule tests are computed on it with loops, never with the engine.
/// </summary>
internal sealed class AffineMap
{
    public AffineMap(int inputs, int outputs, IReadOnlyList<(int Out, int In, double W)> connections, double[]? bias = null)
    {
        Inputs = inputs;
        Outputs = outputs;
        Connections = connections;
        Bias = bias ?? new double[outputs];
    }

    public int Inputs { get; }

    public int Outputs { get; }

    public IReadOnlyList<(int Out, int In, double W)> Connections { get; }

    public double[] Bias { get; }

    /// <summary>A dense layer with weight rows <c>weight[j, i]</c>.</summary>
    public static AffineMap Dense(double[,] weight, double[]? bias)
    {
        var connections = new List<(int, int, double)>();
        for (int j = 0; j < weight.GetLength(0); j++)
        {
            for (int i = 0; i < weight.GetLength(1); i++)
            {
                connections.Add((j, i, weight[j, i]));
            }
        }
        return new AffineMap(weight.GetLength(1), weight.GetLength(0), connections, bias);
    }

    /// <summary>A 2-d convolution (zero padding) of one sample of shape (C, H, W); weight (O, C, K, K) row-major.</summary>
    public static AffineMap Conv2d(double[] weight, long[] shape, double[]? bias, int height, int width, int stride, int padding)
    {
        int outChannels = (int)shape[0], inChannels = (int)shape[1], kernelH = (int)shape[2], kernelW = (int)shape[3];
        int outH = (height + 2 * padding - kernelH) / stride + 1;
        int outW = (width + 2 * padding - kernelW) / stride + 1;
        var connections = new List<(int, int, double)>();
        for (int o = 0; o < outChannels; o++)
        {
            for (int oy = 0; oy < outH; oy++)
            {
                for (int ox = 0; ox < outW; ox++)
                {
                    int j = (o * outH + oy) * outW + ox;
                    for (int c = 0; c < inChannels; c++)
                    {
                        for (int ky = 0; ky < kernelH; ky++)
                        {
                            for (int kx = 0; kx < kernelW; kx++)
                            {
                                int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                                if (iy < 0 || iy >= height || ix < 0 || ix >= width)
                                {
                                    continue; // a zero of the padding: contributes nothing
                                }
                                double w = weight[((o * inChannels + c) * kernelH + ky) * kernelW + kx];
                                connections.Add((j, (c * height + iy) * width + ix, w));
                            }
                        }
                    }
                }
            }
        }
        double[]? fullBias = null;
        if (bias is not null)
        {
            fullBias = new double[outChannels * outH * outW];
            for (int j = 0; j < fullBias.Length; j++)
            {
                fullBias[j] = bias[j / (outH * outW)];
            }
        }
        return new AffineMap(inChannels * height * width, outChannels * outH * outW, connections, fullBias);
    }

    /// <summary>An average pool (no padding) over each channel of one sample of shape (C, H, W).</summary>
    public static AffineMap AvgPool2d(int channels, int height, int width, int kernel, int stride)
    {
        int outH = (height - kernel) / stride + 1, outW = (width - kernel) / stride + 1;
        var connections = new List<(int, int, double)>();
        for (int c = 0; c < channels; c++)
        {
            for (int oy = 0; oy < outH; oy++)
            {
                for (int ox = 0; ox < outW; ox++)
                {
                    for (int ky = 0; ky < kernel; ky++)
                    {
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            connections.Add(((c * outH + oy) * outW + ox, (c * height + oy * stride + ky) * width + ox * stride + kx,
                                1.0 / (kernel * kernel)));
                        }
                    }
                }
            }
        }
        return new AffineMap(channels * height * width, channels * outH * outW, connections);
    }

    /// <summary>A sum over the last dimension of one sample of shape (groups, size).</summary>
    public static AffineMap SumLast(int groups, int size)
    {
        var connections = new List<(int, int, double)>();
        for (int g = 0; g < groups; g++)
        {
            for (int k = 0; k < size; k++)
            {
                connections.Add((g, g * size + k, 1.0));
            }
        }
        return new AffineMap(groups * size, groups, connections);
    }

    /// <summary>y = W x + b for one sample.</summary>
    public double[] Forward(double[] x)
    {
        var y = (double[])Bias.Clone();
        foreach (var (j, i, w) in Connections)
        {
            y[j] += w * x[i];
        }
        return y;
    }
}

/// <summary>The LRP rules written out by hand on an <see cref="AffineMap"/>, for one sample.</summary>
internal static class Hand
{
    /// <summary>zennit's default stabilizer: <c>z + eps * sign(z)</c> with <c>sign(0) = +1</c>.</summary>
    public static Func<double, double> Stab(double epsilon) => z => z + epsilon * (z >= 0 ? 1.0 : -1.0);

    public static double Pos(double v) => Math.Max(v, 0.0);

    public static double Neg(double v) => Math.Min(v, 0.0);

    /// <summary>Applies a one-sample function to every sample of flattened batches.</summary>
    public static double[] PerSample(int batch, double[] x, double[] relevance, Func<double[], double[], int, double[]> rule)
    {
        int inputs = x.Length / batch, outputs = relevance.Length / batch;
        var result = new List<double>();
        for (int n = 0; n < batch; n++)
        {
            result.AddRange(rule(x[(n * inputs)..((n + 1) * inputs)], relevance[(n * outputs)..((n + 1) * outputs)], n));
        }
        return result.ToArray();
    }

    /// <summary>LRP-epsilon: R_i = sum_j x_i w_ji R_j / stab(z_j), z_j = sum_i x_i w_ji + b_j.</summary>
    public static double[] Epsilon(AffineMap map, double[] x, double[] r, Func<double, double> stab)
    {
        double[] z = map.Forward(x);
        var result = new double[map.Inputs];
        foreach (var (j, i, w) in map.Connections)
        {
            result[i] += x[i] * w * r[j] / stab(z[j]);
        }
        return result;
    }

    /// <summary>
    /// LRP-z+: positive inputs through positive weights plus negative inputs through negative weights; the positive
    /// part of the bias in the denominator only.
    /// </summary>
    public static double[] ZPlus(AffineMap map, double[] x, double[] r, Func<double, double> stab)
    {
        var z = map.Bias.Select(Pos).ToArray();
        foreach (var (j, i, w) in map.Connections)
        {
            z[j] += Pos(w) * Pos(x[i]) + Neg(w) * Neg(x[i]);
        }
        var result = new double[map.Inputs];
        foreach (var (j, i, w) in map.Connections)
        {
            result[i] += (Pos(w) * Pos(x[i]) + Neg(w) * Neg(x[i])) * r[j] / stab(z[j]);
        }
        return result;
    }

    /// <summary>LRP-alpha-beta: alpha times the positive contributions' share minus beta times the negative ones'.</summary>
    public static double[] AlphaBeta(AffineMap map, double[] x, double[] r, double alpha, double beta, Func<double, double> stab)
    {
        var zp = map.Bias.Select(Pos).ToArray();
        var zn = map.Bias.Select(Neg).ToArray();
        foreach (var (j, i, w) in map.Connections)
        {
            zp[j] += Pos(w) * Pos(x[i]) + Neg(w) * Neg(x[i]);
            zn[j] += Neg(w) * Pos(x[i]) + Pos(w) * Neg(x[i]);
        }
        var result = new double[map.Inputs];
        foreach (var (j, i, w) in map.Connections)
        {
            double positive = Pos(w) * Pos(x[i]) + Neg(w) * Neg(x[i]);
            double negative = Neg(w) * Pos(x[i]) + Pos(w) * Neg(x[i]);
            result[i] += alpha * positive * r[j] / stab(zp[j]) - beta * negative * r[j] / stab(zn[j]);
        }
        return result;
    }

    /// <summary>
    /// Generalized LRP-gamma (NOTES.md): where the unmodified output is positive, x+ flows through w + gamma w+ and
    /// x- through w + gamma w-, normalized by their sum plus the bias b + gamma b+; where it is negative, x+ through
    /// w + gamma w- and x- through w + gamma w+, with the bias b + gamma b-; where it is zero, nothing flows.
    /// </summary>
    public static double[] Gamma(AffineMap map, double[] x, double[] r, double gamma, Func<double, double> stab)
    {
        double[] z = map.Forward(x);
        var denominator = new double[map.Outputs];
        for (int j = 0; j < map.Outputs; j++)
        {
            double b = map.Bias[j];
            denominator[j] = z[j] > 0 ? b + gamma * Pos(b) : z[j] < 0 ? b + gamma * Neg(b) : 0.0;
        }
        double Contribution(int j, int i, double w)
        {
            if (z[j] > 0)
            {
                return (w + gamma * Pos(w)) * Pos(x[i]) + (w + gamma * Neg(w)) * Neg(x[i]);
            }
            if (z[j] < 0)
            {
                return (w + gamma * Neg(w)) * Pos(x[i]) + (w + gamma * Pos(w)) * Neg(x[i]);
            }
            return 0.0;
        }
        foreach (var (j, i, w) in map.Connections)
        {
            denominator[j] += Contribution(j, i, w);
        }
        var result = new double[map.Inputs];
        foreach (var (j, i, w) in map.Connections)
        {
            if (z[j] != 0)
            {
                result[i] += Contribution(j, i, w) * r[j] / stab(denominator[j]);
            }
        }
        return result;
    }

    /// <summary>
    /// LRP-z^B: contributions x_i w_ji - l_i w+_ji - h_i w-_ji; the biases (b, b+, b-) enter the denominator the same
    /// way and cancel.
    /// </summary>
    public static double[] ZBox(AffineMap map, double[] x, double[] low, double[] high, double[] r, Func<double, double> stab)
    {
        var z = map.Bias.Select(b => b - Pos(b) - Neg(b)).ToArray();
        foreach (var (j, i, w) in map.Connections)
        {
            z[j] += w * x[i] - Pos(w) * low[i] - Neg(w) * high[i];
        }
        var result = new double[map.Inputs];
        foreach (var (j, i, w) in map.Connections)
        {
            result[i] += (w * x[i] - Pos(w) * low[i] - Neg(w) * high[i]) * r[j] / stab(z[j]);
        }
        return result;
    }

    /// <summary>LRP-flat: every connection of an output gets the same share, independent of input and weight.</summary>
    public static double[] Flat(AffineMap map, double[] r, Func<double, double> stab)
    {
        var count = new double[map.Outputs];
        foreach (var (j, _, _) in map.Connections)
        {
            count[j] += 1.0;
        }
        var result = new double[map.Inputs];
        foreach (var (j, i, _) in map.Connections)
        {
            result[i] += r[j] / stab(count[j]);
        }
        return result;
    }

    /// <summary>
    /// LRP-w^2 as zennit defines it: shares proportional to w^2; every parameter is squared, so the squared bias is
    /// part of the denominator.
    /// </summary>
    public static double[] WSquare(AffineMap map, double[] r, Func<double, double> stab)
    {
        var z = map.Bias.Select(b => b * b).ToArray();
        foreach (var (j, _, w) in map.Connections)
        {
            z[j] += w * w;
        }
        var result = new double[map.Inputs];
        foreach (var (j, i, w) in map.Connections)
        {
            result[i] += w * w * r[j] / stab(z[j]);
        }
        return result;
    }
}
