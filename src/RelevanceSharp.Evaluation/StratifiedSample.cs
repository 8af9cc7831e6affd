namespace RelevanceSharp.Evaluation;

/// <summary>
/// A seeded stratified sample of a labelled dataset: the same number of items from every class, so that the
/// evaluation weighs the classes equally and two runs with the same seed see the same items.
/// </summary>
/// <remarks>
/// The items of class <c>c</c> (in dataset order) are shuffled with a permutation seeded by the seed and <c>c</c>
/// (Fisher-Yates driven by SplitMix64), and the first <c>count / classes</c> are taken. The sample is returned in
/// dataset order. A class's items do not depend on the other classes, nor on the count beyond how many are
/// taken: a larger sample with the same seed contains a smaller one.
/// </remarks>
public static class StratifiedSample
{
    /// <summary>
    /// Draws <paramref name="count"/> item indices, <c>count / classes</c> from each class present in
    /// <paramref name="labels"/> (see the remarks).
    /// </summary>
    /// <param name="labels">The class of every item of the dataset.</param>
    /// <param name="count">The sample size: a positive multiple of the number of classes.</param>
    /// <param name="seed">The seed of the shuffles.</param>
    /// <exception cref="ArgumentException">The count is not a positive multiple of the classes, or a class has too few items.</exception>
    public static int[] Draw(IReadOnlyList<long> labels, int count, long seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var byClass = Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).OrderBy(g => g.Key).ToList();
        int classes = byClass.Count;
        if (classes == 0)
        {
            throw new ArgumentException("There are no items to sample from.", nameof(labels));
        }
        if (count < 1 || count % classes != 0)
        {
            throw new ArgumentException(
                $"The sample size must be a positive multiple of the {classes} classes, so that every class has as many items; got {count}.");
        }
        int perClass = count / classes;
        var sample = new List<int>(count);
        foreach (var group in byClass)
        {
            int[] items = group.ToArray();
            if (items.Length < perClass)
            {
                throw new ArgumentException(
                    $"Class {group.Key} has {items.Length} items, fewer than the {perClass} per class a sample of {count} needs.");
            }
            int[] shuffle = Seeds.Permutation(items.Length, Seeds.Derive(seed, group.Key));
            sample.AddRange(shuffle.Take(perClass).Select(j => items[j]));
        }
        sample.Sort();
        return sample.ToArray();
    }
}
