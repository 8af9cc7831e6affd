using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Rules;

namespace RelevanceSharp.Tests.Composites;

/// <summary>The one text form of a composite, NAME(ARGS)+CANONIZERS, read by the library, explain and evaluate.</summary>
public class CompositeSpecTests
{
    [Theory]
    [InlineData("epsilon_plus", "epsilon_plus", "", "")]
    [InlineData(" Epsilon_Gamma_Box(gamma=0.5, low=[-1,-2,-3], high=3)+resnet ", "epsilon_gamma_box", "gamma=0.5|low=[-1,-2,-3]|high=3", "resnet")]
    [InlineData("epsilon_plus_flat+none", "epsilon_plus_flat", "", "")]
    [InlineData("epsilon_plus()+vgg+resnet", "epsilon_plus", "", "vgg|resnet")]
    public void TheTextFormIsReadAndWrittenBack(string text, string name, string arguments, string canonizers)
    {
        CompositeSpec spec = CompositeSpec.Parse(text);
        Assert.Equal(name, spec.Name);
        Assert.Equal(arguments.Length == 0 ? [] : arguments.Split('|'), spec.Arguments);
        Assert.Equal(canonizers.Length == 0 ? [] : canonizers.Split('|'), spec.Canonizers);
        Assert.Equal(spec.ToString(), CompositeSpec.Parse(spec.ToString()).ToString());
    }

    [Theory]
    [InlineData("", "empty part")]
    [InlineData("(epsilon=1)", "names no method")]
    [InlineData("epsilon_plus(epsilon=1", "unclosed")]
    [InlineData("epsilon_plus++resnet", "empty part")]
    [InlineData("epsilon_plus)", "unmatched")]
    public void MalformedTextIsRefusedWithAReason(string text, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => CompositeSpec.Parse(text));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSpecBuildsTheNamedCompositeAndLaterArgumentsWin()
    {
        var composite = (EpsilonGammaBox)CompositeSpec.Parse("epsilon_gamma_box(gamma=0.5,low=-1,high=1)+resnet").Create(["gamma=0.75"], ["vgg"]);
        Assert.Contains(composite.LayerMap, m => m.Rule is Gamma { GammaValue: 0.75 });
        Assert.Equal(["resnet", "vgg"], composite.Canonizers.Select(c => c.Name));
    }

    [Fact]
    public void EvaluateReadsTheSameForm()
    {
        AttributionSpec config = AttributionSpec.Parse("epsilon_gamma_box(gamma=0.5)+densenet_seq_thresh");
        CompositeSpec spec = CompositeSpec.Parse("epsilon_gamma_box(gamma=0.5)+densenet_seq_thresh");
        Assert.Equal(spec.Name, config.Composite);
        Assert.Equal(spec.Arguments, config.CompositeArguments);
        Assert.Equal(spec.Canonizers, config.Canonizers);
    }
}
