using RelevanceSharp.Attribution;
using RelevanceSharp.Canonizers;
using RelevanceSharp.Composites;
using RelevanceSharp.Core;
using RelevanceSharp.Rules;
using RelevanceSharp.Tests.Cli;
using static TorchSharp.torch;

namespace RelevanceSharp.Tests.Composites;

/// <summary>
/// Composites and canonizers registered by name reach every place that takes a name (the library's factory,
/// <c>explain</c> and <c>evaluate</c>) with the same argument syntax; and the named composites' defaults are the ones
/// their argument specifications declare.
/// </summary>
public sealed class RegistryTests : IClassFixture<ScratchDemoFolder>, IDisposable
{
    private const string CompositeName = "test_flat_epsilon";
    private const string CanonizerName = "test_noop_canonizer";
    private static readonly ArgumentSpec EpsilonSpec = new("epsilon", "number", "0.5", "Epsilon of every dense layer.");
    private static int canonizerUses;

    private readonly ScratchDemoFolder demo;
    private readonly CliWorkspace work = new();

    public RegistryTests(ScratchDemoFolder demo)
    {
        this.demo = demo;
        lock (EpsilonSpec)
        {
            if (!CompositeRegistry.Names.Contains(CompositeName))
            {
                CompositeRegistry.Register(new CompositeEntry(CompositeName, "Epsilon on dense layers, Flat on convolutions (a test's).",
                    [EpsilonSpec],
                    (arguments, canonizers) => new LayerMapComposite(
                        [(LayerTypes.Dense, new Epsilon(arguments.Number(EpsilonSpec))), (LayerTypes.Convolution, new Flat())], canonizers)));
                CanonizerRegistry.Register(new CanonizerEntry(CanonizerName, "Changes nothing and counts its uses (a test's).", () => new CountingCanonizer()));
            }
        }
    }

    public void Dispose() => work.Dispose();

    private sealed class CountingCanonizer : ICanonizer
    {
        public string Name => CanonizerName;

        public IDisposable Apply(nn.Module<Tensor, Tensor> model)
        {
            Interlocked.Increment(ref canonizerUses);
            return new UndoStack();
        }
    }

    [Fact]
    public void ARegisteredCompositeIsBuiltWithItsDeclaredDefaultOrTheGivenArgument()
    {
        var byDefault = (LayerMapComposite)CompositeRegistry.Create(CompositeName);
        Assert.Equal("Epsilon(Stabilizer(epsilon=0.5))", byDefault.LayerMap[0].Rule.ToString());
        var given = (LayerMapComposite)CompositeRegistry.Create(CompositeName, ArgumentReader.Parse(["epsilon=0.25"]),
            [CanonizerRegistry.Create(CanonizerName)]);
        Assert.Equal("Epsilon(Stabilizer(epsilon=0.25))", given.LayerMap[0].Rule.ToString());
        Assert.Equal(CanonizerName, Assert.Single(given.Canonizers).Name);
        Assert.Throws<ArgumentException>(() => CompositeRegistry.Create(CompositeName, ArgumentReader.Parse(["gamma=1"])));
    }

    [Fact]
    public void ADeclaredArgumentMayBeReadOnlyWhenTheCompositeMeetsAModel()
    {
        // A function composite reads its arguments inside its map function, after the factory returned: declared
        // arguments are not unknown for that; undeclared ones still are.
        var spec = new ArgumentSpec("scale", "number", "2", "A test's argument.");
        const string name = "test_lazy_argument";
        lock (EpsilonSpec)
        {
            if (!CompositeRegistry.Names.Contains(name))
            {
                CompositeRegistry.Register(new CompositeEntry(name, "Reads its argument late (a test's).", [spec],
                    (arguments, canonizers) => new FunctionComposite((_, module) =>
                        module is TorchSharp.Modules.Linear ? new Epsilon(arguments.Number(spec)) : null, canonizers)));
            }
        }
        Composite composite = CompositeRegistry.Create(name, ArgumentReader.Parse(["scale=0.75"]));
        var model = nn.Linear(3, 2);
        using (CompositeRegistration registration = composite.Register(model))
        {
            Assert.Equal("Epsilon(Stabilizer(epsilon=0.75))", Assert.Single(registration.Rules).Rule.ToString());
        }
        var ex = Assert.Throws<ArgumentException>(() => CompositeRegistry.Create(name, ArgumentReader.Parse(["scael=0.75"])));
        Assert.Contains("'scael'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExplainAndEvaluateKnowRegisteredNames()
    {
        int before = canonizerUses;
        work.Image("images/a.png", 28, 28, seed: 1, gray: true);
        CliResult explained = CliWorkspace.Run("explain", work.PathOf("images"), "--demo-folder", demo.Folder, "--output", work.Output,
            "--composite", CompositeName, "--arg", "epsilon=0.1", "--canonizer", CanonizerName);
        Assert.True(explained.Code == 0, explained.Error);
        Assert.True(canonizerUses > before);
        // The same in the one text form that evaluate's --config reads.
        int between = canonizerUses;
        CliResult inline = CliWorkspace.Run("explain", work.PathOf("images"), "--demo-folder", demo.Folder, "--output", work.PathOf("out2"),
            "--composite", $"{CompositeName}(epsilon=0.1)+{CanonizerName}");
        Assert.True(inline.Code == 0, inline.Error);
        Assert.True(canonizerUses > between);

        AttributionSpec config = AttributionSpec.Parse($"{CompositeName}(epsilon=0.1)+{CanonizerName}");
        Assert.Equal(CompositeName, config.Composite);
        Assert.Equal([CanonizerName], config.Canonizers);
    }

    [Theory]
    [InlineData("epsilon_plus", "is already registered")]
    [InlineData("gradient", "is reserved")]
    [InlineData("two words", "letters, digits and underscores")]
    [InlineData("", "letters, digits and underscores")]
    public void NamesThatCannotWorkAreRefused(string name, string reason)
    {
        var entry = new CompositeEntry(name, "", [], (_, canonizers) => new EpsilonPlus(canonizers: canonizers));
        var error = Assert.Throws<ArgumentException>(() => CompositeRegistry.Register(entry));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => CanonizerRegistry.Register(new CanonizerEntry("resnet", "", () => new SequentialMergeBatchNorm())));
    }

    [Fact]
    public void NamedCompositesUseTheDefaultsTheirSpecificationsDeclare()
    {
        CompositeEntry entry = CompositeRegistry.Get("epsilon_gamma_box");
        var composite = (EpsilonGammaBox)CompositeRegistry.Create("epsilon_gamma_box", ArgumentReader.Parse(["low=-1", "high=1"]));
        string gamma = entry.Arguments.Single(a => a.Name == "gamma").Default!;
        string epsilon = entry.Arguments.Single(a => a.Name == "epsilon").Default!;
        Assert.Contains(composite.LayerMap, m => m.Rule is Gamma g && g.GammaValue == double.Parse(gamma, System.Globalization.CultureInfo.InvariantCulture));
        string expected = new Epsilon(double.Parse(epsilon, System.Globalization.CultureInfo.InvariantCulture)).ToString();
        Assert.Contains(composite.LayerMap, m => m.Rule is Epsilon && m.Rule.ToString() == expected);
    }
}
