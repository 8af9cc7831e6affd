using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;

namespace RelevanceSharp.Tests.Build;

/// <summary>
/// The solution's analyzer (build/RelevanceSharp.Analyzers) on small programs: it must flag each way a temporary
/// TorchSharp Scalar reaches libtorch, and leave code that takes its Scalars from Scalars.Of alone.
/// </summary>
public class ScalarAnalyzerTests
{
    private static readonly Lazy<DiagnosticAnalyzer> Analyzer = new(() =>
    {
        string configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        string path = Path.Combine(TestPaths.RepositoryRoot, "build", "RelevanceSharp.Analyzers", "bin", configuration, "netstandard2.0", "RelevanceSharp.Analyzers.dll");
        Assembly assembly = Assembly.LoadFrom(path);
        return (DiagnosticAnalyzer)Activator.CreateInstance(assembly.GetType("RelevanceSharp.Analyzers.ScalarTemporaryAnalyzer", throwOnError: true)!)!;
    });

    private static async Task<string[]> Diagnose(string body)
    {
        string source = $$"""
            using RelevanceSharp.Core;
            using TorchSharp;
            using static TorchSharp.torch;
            public static class Snippet
            {
                public static Tensor Run(Tensor x, Tensor y, double gamma)
                {
                    {{body}}
                }
            }
            """;
        var references = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && a.Location.Length > 0)
            .Select(a => MetadataReference.CreateFromFile(a.Location))
            .Concat([MetadataReference.CreateFromFile(typeof(TorchSharp.Scalar).Assembly.Location), MetadataReference.CreateFromFile(typeof(RelevanceSharp.Core.Scalars).Assembly.Location)])
            .DistinctBy(r => r.Display);
        var compilation = CSharpCompilation.Create("Snippet", [CSharpSyntaxTree.ParseText(source)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        ImmutableArray<Diagnostic> found = await compilation.WithAnalyzers([Analyzer.Value]).GetAnalyzerDiagnosticsAsync();
        return found.Select(d => d.Id).ToArray();
    }

    [Theory]
    [InlineData("return x.clamp_min(0.0);", "RSA0001")]
    [InlineData("return x.mul_(gamma);", "RSA0001")]
    [InlineData("return x.add(1.0.ToScalar(), Scalars.One);", "RSA0001")]
    [InlineData("return x + y;", "RSA0002")]
    [InlineData("return x * 2.0;", "RSA0002")]
    [InlineData("return x.add_(y);", "RSA0002")]
    [InlineData("return x.square();", "RSA0002")]
    public async Task FlagsEachTemporary(string body, string id) =>
        Assert.Equal([id], await Diagnose(body));

    [Theory]
    [InlineData("return x.clamp_min(Scalars.Of(0.0)).mul_(Scalars.Of(gamma));")]
    [InlineData("return x.add(y, Scalars.One).mul(y).div(y);")]
    [InlineData("using Scalar kept = gamma.ToScalar(); return x.mul(kept);")]
    public async Task LeavesKeptScalarsAlone(string body) =>
        Assert.Empty(await Diagnose(body));
}
