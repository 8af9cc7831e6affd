using static TorchSharp.torch;

namespace RelevanceSharp.Core;

/// <summary>
/// The module shapes whose forward takes several tensors that rules can attach to: two or three tensor arguments,
/// an array or list of tensors, or a tuple of two or three tensors. Each shape is reduced to one form, a list of
/// inputs and one output, for hooking a call and for running the module's own forward again.
/// </summary>
internal static class MultiInputModules
{
    /// <summary>
    /// The forms rules can attach to, for messages: what a module must take and return to carry a rule.
    /// </summary>
    public const string Accepted =
        "Module<Tensor, Tensor>, Module<Tensor, Tensor, Tensor>, Module<Tensor, Tensor, Tensor, Tensor>, " +
        "Module<Tensor[], Tensor>, Module<IList<Tensor>, Tensor>, Module<IReadOnlyList<Tensor>, Tensor>, " +
        "Module<(Tensor, Tensor), Tensor> or Module<(Tensor, Tensor, Tensor), Tensor>";

    /// <summary>Whether rules can attach to the module as one with several inputs.</summary>
    public static bool IsMultiInput(nn.Module module) => module is nn.Module<Tensor, Tensor, Tensor>
        or nn.Module<Tensor, Tensor, Tensor, Tensor>
        or nn.Module<Tensor[], Tensor>
        or nn.Module<IList<Tensor>, Tensor>
        or nn.Module<IReadOnlyList<Tensor>, Tensor>
        or nn.Module<(Tensor, Tensor), Tensor>
        or nn.Module<(Tensor, Tensor, Tensor), Tensor>;

    /// <summary>
    /// Attaches <paramref name="pre"/> before and <paramref name="post"/> after every call of the module.
    /// <paramref name="pre"/> receives the call's inputs and returns replacements (or <c>null</c> to keep them);
    /// <paramref name="post"/> receives the inputs the module ran on and its output and returns the output to hand
    /// on. Disposing the result detaches both.
    /// </summary>
    public static IDisposable Hook(nn.Module module, Func<IReadOnlyList<Tensor>, Tensor[]?> pre, Func<nn.Module, IReadOnlyList<Tensor>, Tensor, Tensor> post)
    {
        switch (module)
        {
            case nn.Module<Tensor, Tensor, Tensor> two:
                return Remover(
                    two.register_forward_pre_hook((m, a, b) => pre(new[] { a, b }) is { } r ? (r[0], r[1]) : null).remove,
                    two.register_forward_hook((m, a, b, y) => post(m, new[] { a, b }, y)).remove);
            case nn.Module<Tensor, Tensor, Tensor, Tensor> three:
                return Remover(
                    three.register_forward_pre_hook((m, a, b, c) => pre(new[] { a, b, c }) is { } r ? (r[0], r[1], r[2]) : null).remove,
                    three.register_forward_hook((m, a, b, c, y) => post(m, new[] { a, b, c }, y)).remove);
            case nn.Module<Tensor[], Tensor> array:
                return Remover(
                    array.register_forward_pre_hook((m, x) => pre(x) ?? x).remove,
                    array.register_forward_hook((m, x, y) => post(m, x, y)).remove);
            case nn.Module<IList<Tensor>, Tensor> list:
                return Remover(
                    list.register_forward_pre_hook((m, x) => pre(x.ToArray()) is { } r ? r.ToList() : x).remove,
                    list.register_forward_hook((m, x, y) => post(m, x.ToArray(), y)).remove);
            case nn.Module<IReadOnlyList<Tensor>, Tensor> readOnly:
                return Remover(
                    readOnly.register_forward_pre_hook((m, x) => pre(x) ?? x).remove,
                    readOnly.register_forward_hook((m, x, y) => post(m, x, y)).remove);
            case nn.Module<(Tensor, Tensor), Tensor> pair:
                return Remover(
                    pair.register_forward_pre_hook((m, x) => pre(new[] { x.Item1, x.Item2 }) is { } r ? (r[0], r[1]) : x).remove,
                    pair.register_forward_hook((m, x, y) => post(m, new[] { x.Item1, x.Item2 }, y)).remove);
            case nn.Module<(Tensor, Tensor, Tensor), Tensor> triple:
                return Remover(
                    triple.register_forward_pre_hook((m, x) => pre(new[] { x.Item1, x.Item2, x.Item3 }) is { } r ? (r[0], r[1], r[2]) : x).remove,
                    triple.register_forward_hook((m, x, y) => post(m, new[] { x.Item1, x.Item2, x.Item3 }, y)).remove);
            default:
                throw new NotSupportedException($"{module.Describe()} does not take several tensors and return one.");
        }
    }

    /// <summary>Runs the module's own forward (no hooks) on the inputs, in the form its forward takes them.</summary>
    public static Tensor Forward(nn.Module module, IReadOnlyList<Tensor> inputs)
    {
        Tensor At(int i) => i < inputs.Count
            ? inputs[i]
            : throw new ArgumentException($"{module.Describe()} takes more inputs than the {inputs.Count} given.");
        return module switch
        {
            nn.Module<Tensor, Tensor, Tensor> two => two.forward(At(0), At(1)),
            nn.Module<Tensor, Tensor, Tensor, Tensor> three => three.forward(At(0), At(1), At(2)),
            nn.Module<Tensor[], Tensor> array => array.forward(inputs.ToArray()),
            nn.Module<IList<Tensor>, Tensor> list => list.forward(inputs.ToList()),
            nn.Module<IReadOnlyList<Tensor>, Tensor> readOnly => readOnly.forward(inputs.ToArray()),
            nn.Module<(Tensor, Tensor), Tensor> pair => pair.forward((At(0), At(1))),
            nn.Module<(Tensor, Tensor, Tensor), Tensor> triple => triple.forward((At(0), At(1), At(2))),
            _ => throw new NotSupportedException($"{module.Describe()} does not take several tensors and return one."),
        };
    }

    private static IDisposable Remover(Action removePre, Action removePost) => new Removal(removePre + removePost);

    private sealed class Removal : IDisposable
    {
        private Action? remove;

        public Removal(Action remove) => this.remove = remove;

        public void Dispose()
        {
            remove?.Invoke();
            remove = null;
        }
    }
}
