using RelevanceSharp.Language.Models;
using static TorchSharp.torch;
using RelevanceSharp.Core;

namespace RelevanceSharp.Tests.Language;

/// <summary>
/// A LLaMA-family forward pass written out with loops over plain arrays, from a model's parameters by their Hugging
/// Face names: one token and one head at a time, the rotation of each pair of dimensions, the causal softmax by hand.
/// </summary>
internal static class ReferenceDecoder
{
    public static double[][] Logits(DecoderModel model, long[] ids)
    {
        DecoderConfig c = model.Config;
        var p = model.named_parameters().ToDictionary(x => x.name, x => Support.D(x.parameter));
        double[] Get(string name) => p[name];
        double[] Optional(string name) => p.TryGetValue(name, out double[]? v) ? v : Array.Empty<double>();
        int h = (int)c.HiddenSize, d = (int)c.HeadDim, n = ids.Length;
        double[][] x = ids.Select(id => Get("model.embed_tokens.weight").AsSpan((int)id * h, h).ToArray()).ToArray();
        IReadOnlyList<double> f = new RotaryEmbedding(c.HeadDim, c.RopeTheta, c.RopeScaling).Frequencies;
        for (int l = 0; l < c.Layers; l++)
        {
            string pre = $"model.layers.{l}.";
            double[][] hs = x.Select(v => Rms(v, Get(pre + "input_layernorm.weight"), c.RmsNormEps)).ToArray();
            double[][] q = hs.Select(v => Affine(Get(pre + "self_attn.q_proj.weight"), Optional(pre + "self_attn.q_proj.bias"), v)).ToArray();
            double[][] k = hs.Select(v => Affine(Get(pre + "self_attn.k_proj.weight"), Optional(pre + "self_attn.k_proj.bias"), v)).ToArray();
            double[][] vv = hs.Select(v => Affine(Get(pre + "self_attn.v_proj.weight"), Optional(pre + "self_attn.v_proj.bias"), v)).ToArray();
            for (int t = 0; t < n; t++)
            {
                Rotate(q[t], c.AttentionHeads, d, t, f);
                Rotate(k[t], c.KeyValueHeads, d, t, f);
            }
            double[][] mixed = Enumerable.Range(0, n).Select(_ => new double[c.AttentionHeads * d]).ToArray();
            for (int head = 0; head < c.AttentionHeads; head++)
            {
                int kv = head / c.GroupSize;
                for (int t = 0; t < n; t++)
                {
                    var scores = new double[t + 1];
                    for (int u = 0; u <= t; u++)
                    {
                        for (int i = 0; i < d; i++)
                        {
                            scores[u] += q[t][head * d + i] * k[u][kv * d + i];
                        }
                        scores[u] /= Math.Sqrt(d);
                    }
                    double max = scores.Max();
                    double[] e = scores.Select(s => Math.Exp(s - max)).ToArray();
                    double sum = e.Sum();
                    for (int u = 0; u <= t; u++)
                    {
                        for (int i = 0; i < d; i++)
                        {
                            mixed[t][head * d + i] += e[u] / sum * vv[u][kv * d + i];
                        }
                    }
                }
            }
            for (int t = 0; t < n; t++)
            {
                double[] o = Affine(Get(pre + "self_attn.o_proj.weight"), Optional(pre + "self_attn.o_proj.bias"), mixed[t]);
                x[t] = x[t].Zip(o, (a, b) => a + b).ToArray();
                double[] h2 = Rms(x[t], Get(pre + "post_attention_layernorm.weight"), c.RmsNormEps);
                double[] gate = Affine(Get(pre + "mlp.gate_proj.weight"), Optional(pre + "mlp.gate_proj.bias"), h2);
                double[] up = Affine(Get(pre + "mlp.up_proj.weight"), Optional(pre + "mlp.up_proj.bias"), h2);
                double[] product = gate.Zip(up, (g, u) => g / (1 + Math.Exp(-g)) * u).ToArray();
                double[] down = Affine(Get(pre + "mlp.down_proj.weight"), Optional(pre + "mlp.down_proj.bias"), product);
                x[t] = x[t].Zip(down, (a, b) => a + b).ToArray();
            }
        }
        double[] head0 = c.TieWordEmbeddings ? Get("model.embed_tokens.weight") : Get("lm_head.weight");
        return x.Select(v => Affine(head0, Array.Empty<double>(), Rms(v, Get("model.norm.weight"), c.RmsNormEps))).ToArray();
    }

    private static double[] Rms(double[] v, double[] w, double eps)
    {
        double scale = 1 / Math.Sqrt(v.Average(a => a * a) + eps);
        return v.Select((a, i) => w[i] * a * scale).ToArray();
    }

    // W (rows x v.Length, row-major) times v, plus the bias when there is one.
    private static double[] Affine(double[] w, double[] bias, double[] v)
    {
        int rows = w.Length / v.Length;
        var result = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = bias.Length > 0 ? bias[r] : 0;
            for (int i = 0; i < v.Length; i++)
            {
                s += w[r * v.Length + i] * v[i];
            }
            result[r] = s;
        }
        return result;
    }

    // Each pair (i, i + d/2) of a head turns by the angle position * f_i.
    private static void Rotate(double[] v, int heads, int d, int position, IReadOnlyList<double> f)
    {
        for (int head = 0; head < heads; head++)
        {
            for (int i = 0; i < d / 2; i++)
            {
                double a = v[head * d + i], b = v[head * d + i + d / 2], angle = position * f[i];
                v[head * d + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                v[head * d + i + d / 2] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
        }
    }

    /// <summary>A small decoder of the given layout with random weights (norm weights away from one).</summary>
    public static DecoderModel Random(DecoderConfig config, ulong seed)
    {
        var model = new DecoderModel(config, ScalarType.Float64);
        using (no_grad())
        {
            ulong s = seed;
            foreach (var (name, parameter) in model.named_parameters())
            {
                double[] values = Support.Values((int)parameter.numel(), s++);
                double scale = name.EndsWith("norm.weight", StringComparison.Ordinal) ? 0.3 : 0.5;
                using Tensor t = Support.T(values, parameter.shape).mul(Scalars.Of(scale)).add(Scalars.Of((name.EndsWith("norm.weight", StringComparison.Ordinal) ? 1.0 : 0.0)), Scalars.One);
                parameter.copy_(t);
            }
        }
        return model;
    }
}
