using RelevanceSharp.Attribution;
using RelevanceSharp.Composites;
using TorchSharp;
using static TorchSharp.torch;

var model = nn.Sequential(
    ("conv", nn.Conv2d(3, 8, 3, padding: 1)), ("relu", nn.ReLU()),
    ("flatten", nn.Flatten()), ("fc", nn.Linear(8 * 8 * 8, 4)));
model.eval();
manual_seed(0);
var input = randn(2, 3, 8, 8);
var composite = CompositeRegistry.Create("epsilon_plus_flat");
using var result = new Gradient(model, composite).Attribute(input, AttributionTarget.Class(1));
bool finite = isfinite(result.Relevance).all().item<bool>();
Console.WriteLine($"relevance {string.Join("x", result.Relevance.shape)} finite {finite}");
return finite ? 0 : 1;
