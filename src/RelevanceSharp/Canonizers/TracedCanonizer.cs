using System.Globalization;
using RelevanceSharp.Core;
using RelevanceSharp.Platform;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RelevanceSharp.Canonizers;

/// <summary>
/// A canonizer that decides what to merge from the model's traced dataflow (<see cref="DataflowTrace"/>), never
/// from the order in which modules were registered.
/// <para>
/// Tracing needs an input. Give one to the constructor to canonize as soon as <see cref="Apply"/> is called;
/// without one, <see cref="Apply"/> only arms the canonizer and the rewrite happens lazily at the start of the
/// model's first forward pass, traced on the first sample of that pass's input. Either way the canonizer checks
/// on the traced sample that the rewritten model computes the same output as before, and refuses (restoring the
/// model) if it does not, which catches tensors used by operations the trace cannot see.
/// </para>
/// </summary>
public abstract class TracedCanonizer : ICanonizer
{
    // The CPU guard must be in force before this type runs its first convolution.
    static TracedCanonizer() => CpuGuard.Ensure();

    private readonly Tensor? exampleInput;

    /// <summary>Creates the canonizer, optionally with an example input to canonize immediately.</summary>
    protected TracedCanonizer(Tensor? exampleInput = null)
    {
        this.exampleInput = exampleInput?.detach().clone().DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public IDisposable Apply(nn.Module<Tensor, Tensor> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var application = new Application(this, model);
        if (exampleInput is not null)
        {
            application.Canonize(exampleInput);
        }
        else
        {
            application.Arm();
        }
        return application;
    }

    /// <summary>
    /// Plans and performs the rewrite for one traced forward pass, pushing every change's undo onto
    /// <paramref name="undo"/>.
    /// </summary>
    protected abstract void Rewrite(ModelTrace trace, UndoStack undo);

    /// <summary>A traced model: the dataflow plus module names.</summary>
    public sealed class ModelTrace
    {
        internal ModelTrace(nn.Module<Tensor, Tensor> model, DataflowTrace dataflow)
        {
            Model = model;
            Dataflow = dataflow;
            var names = new Dictionary<object, string>(ReferenceEqualityComparer.Instance);
            foreach (var (name, module) in model.NamedModulesWithRoot())
            {
                names.TryAdd(module, name == "" ? "(model)" : name);
            }
            Names = names;
        }

        /// <summary>The model.</summary>
        public nn.Module<Tensor, Tensor> Model { get; }

        /// <summary>The recorded dataflow.</summary>
        public DataflowTrace Dataflow { get; }

        /// <summary>Module names.</summary>
        public IReadOnlyDictionary<object, string> Names { get; }

        /// <summary>The name of a module.</summary>
        public string NameOf(nn.Module module) => Names.TryGetValue(module, out string? name) ? name : module.Describe();

        /// <summary>
        /// The batch norms that are called exactly once, with their call. Batch norms an earlier canonizer already
        /// merged (now the identity) are included, as the reference implementation includes them: merging them
        /// again changes no value, and a ReLU after one still becomes a ThreshReLU.
        /// </summary>
        public IEnumerable<(BatchNorm BatchNorm, DataflowTrace.Node Node)> BatchNorms()
        {
            foreach (DataflowTrace.Node node in Dataflow.Nodes)
            {
                if (node.Module is BatchNorm batchNorm && Dataflow.CallCount(batchNorm) == 1)
                {
                    yield return (batchNorm, node);
                }
            }
        }

        /// <summary>Whether a call is of a linear layer or convolution that is called only once.</summary>
        public bool IsSingleFoldable(DataflowTrace.Node node) =>
            LayerMerge.IsFoldable(node.Module) && Dataflow.CallCount(node.Module) == 1;
    }

    private sealed class Application : IDisposable
    {
        private readonly TracedCanonizer owner;
        private readonly nn.Module<Tensor, Tensor> model;
        private readonly UndoStack undo = new();
        private IDisposable? trigger;
        private bool done;

        public Application(TracedCanonizer owner, nn.Module<Tensor, Tensor> model)
        {
            this.owner = owner;
            this.model = model;
        }

        public void Arm() => trigger = ModuleHooks.Add(model, HookStage.Outer, new LazyTrigger(this));

        public void Canonize(Tensor input)
        {
            if (done)
            {
                return;
            }
            done = true;
            // A forward pass in training mode would update the batch norms' running statistics.
            foreach (var (name, module) in model.NamedModulesWithRoot())
            {
                if (module is BatchNorm { training: true })
                {
                    throw new InvalidOperationException(
                        $"Batch norm '{name}' is in training mode; canonizing needs running statistics and a forward pass " +
                        "that does not update them. Call model.eval() first.");
                }
            }
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            Tensor sample = input.dim() > 0 && input.shape[0] > 1 ? input.narrow(0, 0, 1) : input;
            DataflowTrace dataflow = DataflowTrace.Record(model, sample);
            Tensor before = dataflow.OutputValue;
            try
            {
                owner.Rewrite(new ModelTrace(model, dataflow), undo);
                Tensor after = model.forward(sample);
                CheckUnchanged(before, after);
            }
            catch
            {
                undo.Dispose();
                throw;
            }
        }

        private void CheckUnchanged(Tensor before, Tensor after)
        {
            double scale = Math.Max(1.0, before.abs().max().to(ScalarType.Float64).item<double>());
            double difference = (after.to(ScalarType.Float64) - before.to(ScalarType.Float64)).abs().max().to(ScalarType.Float64).item<double>();
            double tolerance = before.dtype == ScalarType.Float64 ? 1e-9 : 1e-3;
            if (!(difference <= tolerance * scale))
            {
                throw new InvalidOperationException(
                    $"Canonizer '{owner.Name}' would change the model's output (max difference " +
                    difference.ToString("E3", CultureInfo.InvariantCulture) +
                    "); a merged tensor is probably also used by an operation outside the traced modules. The model was left unchanged.");
            }
        }

        public void Dispose()
        {
            trigger?.Dispose();
            trigger = null;
            undo.Dispose();
        }

        private sealed class LazyTrigger : IForwardInterceptor
        {
            private readonly Application application;

            public LazyTrigger(Application application) => this.application = application;

            public Tensor PreForward(nn.Module<Tensor, Tensor> module, Tensor input)
            {
                application.trigger?.Dispose();
                application.trigger = null;
                application.Canonize(input);
                return input;
            }

            public Tensor PostForward(nn.Module<Tensor, Tensor> module, Tensor input, Tensor output) => output;
        }
    }
}
