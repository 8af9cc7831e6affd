namespace RelevanceSharp.Composites;

/// <summary>
/// Declares a public static property as an entry of a named registry, beside the class it names (as zennit's
/// <c>@register_composite</c> does): a <see cref="CompositeEntry"/> joins <see cref="CompositeRegistry"/>, a
/// <see cref="Canonizers.CanonizerEntry"/> <see cref="Canonizers.CanonizerRegistry"/>, a <see cref="Attribution.MethodEntry"/>
/// <see cref="Attribution.MethodRegistry"/>. The registries find these
/// properties in every loaded assembly that references RelevanceSharp, so adding a composite, canonizer or method is
/// one new file. <see cref="Order"/> places the entry in the registry's listing (lowest first, then by name); entries
/// added with a registry's <c>Register</c> come after all declared ones.
/// </summary>
/// <param name="order">The entry's place in its registry's listing.</param>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = false)]
public sealed class RegistryEntryAttribute(int order = 0) : Attribute
{
    /// <summary>The entry's place in its registry's listing: lower comes first; equal orders sort by name.</summary>
    public int Order { get; } = order;
}
