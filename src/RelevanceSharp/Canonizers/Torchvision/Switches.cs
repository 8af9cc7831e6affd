using RelevanceSharp.Layers;

namespace RelevanceSharp.Canonizers.Torchvision;

/// <summary>
/// A module whose additions can run through a <see cref="Sum"/> module instead of an in-place <c>+=</c>, so that
/// rules can see them (the model zoo's residual blocks; the <c>resnet</c> canonizer switches it on).
/// </summary>
public interface ISumSwitch
{
    /// <summary>Whether the additions run through the <see cref="Sum"/> module; both compute the same values.</summary>
    bool UseSumModule { get; set; }
}

/// <summary>
/// A model whose final activation and pooling can run as explicit modules instead of functional calls (the model
/// zoo's DenseNets; the DenseNet canonizers switch it on).
/// </summary>
public interface IHeadSwitch
{
    /// <summary>Whether the head runs as modules that rules can see; both compute the same values.</summary>
    bool ExplicitHead { get; set; }
}
