using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace RelevanceSharp.Analyzers;

/// <summary>
/// Flags every conversion of a number to <c>TorchSharp.Scalar</c> that creates a temporary (<c>x.mul(2.0)</c>,
/// <c>x.clamp_min(0.0)</c>, <c>x * gamma</c>, <c>value.ToScalar()</c> handed straight to a call).
/// <para>
/// TorchSharp's Scalar owns a native object and frees it in its finalizer, and its operations pass only the native
/// pointer to libtorch. A temporary Scalar is unreachable as soon as its pointer has been read, so a garbage
/// collection that another thread starts while libtorch runs lets the finalizer free the value libtorch is reading:
/// the operation then uses freed memory (NaN results, or a libtorch error about the scalar's type). TorchSharp 0.107
/// does not keep these temporaries alive. Code in this solution takes its Scalars from
/// <c>RelevanceSharp.Core.Scalars</c>, which keeps each one reachable.
/// </para>
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ScalarTemporaryAnalyzer : DiagnosticAnalyzer
{
    /// <summary>The diagnostic's identifier.</summary>
    public const string Id = "RSA0001";

    private static readonly DiagnosticDescriptor Rule = new(
        Id,
        "A temporary TorchSharp Scalar can be freed while libtorch reads it",
        "'{0}' becomes a temporary TorchSharp Scalar, which the finalizer may free during the native call; take it from Scalars.Of (RelevanceSharp.Core)",
        "Reliability",
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "TorchSharp frees a Scalar's native value in its finalizer and does not keep temporaries alive across native calls.");

    /// <summary>The identifier of the diagnostic for TorchSharp members that make a temporary Scalar themselves.</summary>
    public const string HiddenId = "RSA0002";

    private static readonly DiagnosticDescriptor HiddenRule = new(
        HiddenId,
        "This TorchSharp member makes a temporary Scalar that can be freed while libtorch reads it",
        "{0} creates a temporary TorchSharp Scalar inside TorchSharp ({1}); call the overload that takes the Scalar, with one from Scalars.Of (RelevanceSharp.Core)",
        "Reliability",
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "Found by scanning TorchSharp 0.107's IL for members that convert a number to a Scalar and hand it to libtorch (HiddenScalarMembers.txt).");

    // Members of TorchSharp 0.107 that create a Scalar temporary themselves (an alpha of 1, a number parameter),
    // listed by a scan of TorchSharp's IL: type::name(parameter types).
    private static readonly ImmutableHashSet<string> HiddenMembers = LoadHiddenMembers();

    private static ImmutableHashSet<string> LoadHiddenMembers()
    {
        using var stream = typeof(ScalarTemporaryAnalyzer).Assembly.GetManifestResourceStream("HiddenScalarMembers.txt")
            ?? throw new System.InvalidOperationException("HiddenScalarMembers.txt is not embedded.");
        using var reader = new System.IO.StreamReader(stream);
        var members = ImmutableHashSet.CreateBuilder<string>();
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Trim().Length > 0)
            {
                members.Add(line.Trim());
            }
        }
        return members.ToImmutable();
    }

    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule, HiddenRule);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            INamedTypeSymbol? scalar = start.Compilation.GetTypeByMetadataName("TorchSharp.Scalar");
            if (scalar is null)
            {
                return;
            }
            start.RegisterOperationAction(c => Conversion(c, scalar), OperationKind.Conversion);
            start.RegisterOperationAction(c => Invocation(c, scalar), OperationKind.Invocation);
            start.RegisterOperationAction(Hidden, OperationKind.Invocation, OperationKind.Binary, OperationKind.CompoundAssignment, OperationKind.ObjectCreation);
        });
    }

    private static void Hidden(OperationAnalysisContext context)
    {
        IMethodSymbol? method = context.Operation switch
        {
            IInvocationOperation invocation => invocation.TargetMethod,
            IBinaryOperation binary => binary.OperatorMethod,
            ICompoundAssignmentOperation compound => compound.OperatorMethod,
            _ => null,
        };
        if (method is null || method.ContainingType is null)
        {
            return;
        }
        string signature = Signature(method.OriginalDefinition);
        if (HiddenMembers.Contains(signature))
        {
            context.ReportDiagnostic(Diagnostic.Create(HiddenRule, context.Operation.Syntax.GetLocation(), context.Operation.Syntax.ToString(), signature));
        }
    }

    // The form the IL scan writes: TorchSharp.torch+Tensor::add(Tensor).
    private static string Signature(IMethodSymbol method)
    {
        var type = new System.Text.StringBuilder();
        for (INamedTypeSymbol? t = method.ContainingType; t is not null; t = t.ContainingType)
        {
            type.Insert(0, t.ContainingType is null ? t.MetadataName : "+" + t.MetadataName);
            if (t.ContainingType is null && t.ContainingNamespace is { IsGlobalNamespace: false } ns)
            {
                type.Insert(0, ns.ToDisplayString() + ".");
            }
        }
        string name = method.MethodKind == MethodKind.Constructor ? ".ctor" : method.MetadataName;
        return $"{type}::{name}({string.Join(",", method.Parameters.Select(p => TypeName(p.Type)))})";
    }

    private static string TypeName(ITypeSymbol type) =>
        type is IArrayTypeSymbol array ? TypeName(array.ElementType) + "[]" : type.MetadataName;

    private static void Conversion(OperationAnalysisContext context, INamedTypeSymbol scalar)
    {
        var conversion = (IConversionOperation)context.Operation;
        if (conversion.OperatorMethod is { } method
            && SymbolEqualityComparer.Default.Equals(method.ContainingType, scalar)
            && SymbolEqualityComparer.Default.Equals(conversion.Type, scalar))
        {
            context.ReportDiagnostic(Diagnostic.Create(Rule, conversion.Syntax.GetLocation(), conversion.Operand.Syntax.ToString()));
        }
    }

    // value.ToScalar() passed straight on (not stored in a variable whose lifetime the code controls).
    private static void Invocation(OperationAnalysisContext context, INamedTypeSymbol scalar)
    {
        var invocation = (IInvocationOperation)context.Operation;
        if (!SymbolEqualityComparer.Default.Equals(invocation.Type, scalar)
            || !invocation.TargetMethod.Name.StartsWith("To", System.StringComparison.Ordinal)
            || invocation.TargetMethod.ContainingNamespace?.ToDisplayString() != "TorchSharp")
        {
            return;
        }
        if (invocation.Parent is IArgumentOperation or IInvocationOperation or IBinaryOperation)
        {
            context.ReportDiagnostic(Diagnostic.Create(Rule, invocation.Syntax.GetLocation(), invocation.Syntax.ToString()));
        }
    }
}
