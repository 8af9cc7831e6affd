// The README's section "Vision transformers" shows this program piece by piece; a test builds and runs it and checks
// what it prints.
using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using RelevanceSharp.Layers;
using RelevanceSharp.Rules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

torch.manual_seed(1);
var model = new TinyVit();
model.eval();
Tensor images = torch.rand(2, 3, 16, 16);

// AttnLRP, relevance starting at each sample's class-1 logit, with the balance of every layer.
var (lrp, report) = ConservationReport.Attribute(new Gradient(model, new AttnLrp()), images, AttributionTarget.ClassScore(1));
Console.WriteLine($"attnlrp: logit {report.Target[0]:F4}, at the input {report.Input[0]:F4}, absorbed by layers {report.AbsorbedByLayers[0]:F4}");
foreach (LayerBalance layer in report.Absorbers(3, sample: 0))
{
    Console.WriteLine($"  {layer.Name}: {layer.Absorbed[0]:F4}");
}

// CP-LRP, with a rule of your own for one attention's query projection (here: Epsilon with a larger epsilon).
var cpLrp = new CpLrp(nameMap: [(["blocks.0.self_attention.q"], new Epsilon(0.1))]);
using AttributionResult conservative = new Gradient(model, cpLrp, AttributionTarget.ClassScore(1)).Attribute(images);
Console.WriteLine($"cp_lrp: relevance at the input {conservative.Relevance[0].sum().item<float>():F4}");

// Attention rollout on the 4 x 4 patch grid.
var (_, grid) = new AttentionRollout(model).AttributePatches(images);
Console.WriteLine($"rollout: grid {grid.shape[1]} x {grid.shape[2]}, class token's share of the patches {grid[0].sum().item<float>():F4}");

/// <summary>
/// A vision transformer of your own from the library's blocks: 4 x 4 patches of a 16 x 16 image, a class token put in
/// front, a learned position embedding added by an Add module, two encoder blocks, a final layer norm and a head.
/// </summary>
public sealed class TinyVit : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d patches = nn.Conv2d(3, 32, 4, stride: 4);
    private readonly Parameter token = nn.Parameter(torch.randn(1, 1, 32) * 0.02);
    private readonly PrependTokens prepend = new();
    private readonly Parameter position = nn.Parameter(torch.randn(1, 17, 32) * 0.02);
    private readonly Add addPosition = new();
    private readonly Sequential blocks = nn.Sequential(
        new TransformerEncoderBlock(hiddenDim: 32, numHeads: 4, mlpDim: 64),
        new TransformerEncoderBlock(hiddenDim: 32, numHeads: 4, mlpDim: 64));
    private readonly LayerNorm norm = nn.LayerNorm(32, 1e-6);
    private readonly Linear head = nn.Linear(32, 5);

    public TinyVit() : base(nameof(TinyVit)) => RegisterComponents();

    public override Tensor forward(Tensor images)
    {
        // (N, 32, 4, 4) -> (N, 16, 32): reshapes hand relevance on unchanged; the addition and the class token go
        // through modules, so that rules (and the conservation report) see them.
        Tensor tokens = patches.call(images).flatten(2).transpose(1, 2);
        tokens = addPosition.call(prepend.call(token, tokens), position);
        return head.call(norm.call(blocks.call(tokens)).select(1, 0));
    }
}
