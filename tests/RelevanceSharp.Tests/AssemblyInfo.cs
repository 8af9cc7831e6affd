// TorchSharp keeps per-thread state (grad mode, dispose scopes) and the engine reports failures of rules from inside
// the native backward pass through one process-wide queue; the memory test also measures the whole process. Tests
// therefore run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
