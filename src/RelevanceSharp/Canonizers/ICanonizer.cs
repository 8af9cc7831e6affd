using static TorchSharp.torch;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// A reversible rewrite of a model into a form LRP rules assume (batch norms merged into linear layers, sums as
/// modules, ...). <see cref="Apply"/> changes the model and returns a handle that restores it exactly.
/// Canonizers never change the function the model computes.
/// </summary>
public interface ICanonizer
{
    /// <summary>The registry name, e.g. <c>sequential_merge_batch_norm</c>.</summary>
    string Name { get; }

    /// <summary>Applies the rewrite; disposing the result undoes it.</summary>
    IDisposable Apply(nn.Module<Tensor, Tensor> model);
}

/// <summary>Applies several canonizers in order and undoes them in reverse order.</summary>
public sealed class CompositeCanonizer : ICanonizer
{
    /// <summary>Creates the canonizer.</summary>
    public CompositeCanonizer(string name, params ICanonizer[] canonizers)
    {
        Name = name;
        Parts = canonizers;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The canonizers, in the order they are applied.</summary>
    public IReadOnlyList<ICanonizer> Parts { get; }

    /// <inheritdoc />
    public IDisposable Apply(nn.Module<Tensor, Tensor> model)
    {
        var applied = new UndoStack();
        try
        {
            foreach (ICanonizer part in Parts)
            {
                applied.Push(part.Apply(model));
            }
        }
        catch
        {
            applied.Dispose();
            throw;
        }
        return applied;
    }
}

/// <summary>Undo actions run newest first; every action runs even if an earlier one throws.</summary>
public sealed class UndoStack : IDisposable
{
    private readonly List<IDisposable> actions = new();

    /// <summary>Adds an undo action.</summary>
    public void Push(IDisposable action) => actions.Add(action);

    /// <summary>Adds an undo action given as a delegate.</summary>
    public void Push(Action action) => actions.Add(new ActionDisposable(action));

    /// <inheritdoc />
    public void Dispose()
    {
        List<Exception>? errors = null;
        for (int i = actions.Count - 1; i >= 0; i--)
        {
            try
            {
                actions[i].Dispose();
            }
            catch (Exception ex)
            {
                (errors ??= new List<Exception>()).Add(ex);
            }
        }
        actions.Clear();
        if (errors is not null)
        {
            throw errors.Count == 1 ? errors[0] : new AggregateException("Undoing a canonizer failed.", errors);
        }
    }

    private sealed class ActionDisposable : IDisposable
    {
        private Action? action;

        public ActionDisposable(Action action) => this.action = action;

        public void Dispose()
        {
            Action? run = action;
            action = null;
            run?.Invoke();
        }
    }
}
