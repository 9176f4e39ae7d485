import Tokenizers

/// Options of the reference's `get_batch_iterator` (docs/spec/data.md §9).
public struct BatchIteratorOptions: Sendable {
    public var batchSize: Int
    public var epochs: Int?
    public var examples: Int?
    public var sftMode: Bool
    public var limits: TruncationLimits
    public var shuffle: Bool
    /// The data seed: 0 in both references (the run's `seed` is not passed to the iterator).
    public var seed: UInt32
    /// The TDPO reference draws permutation seeds below 2^31 (docs/spec/data.md §9.4).
    public var tdpoPermutationSeeds: Bool

    public init(batchSize: Int, epochs: Int? = nil, examples: Int? = nil, sftMode: Bool,
                limits: TruncationLimits = TruncationLimits(), shuffle: Bool = true, seed: UInt32 = 0,
                tdpoPermutationSeeds: Bool = false) {
        self.batchSize = batchSize; self.epochs = epochs; self.examples = examples; self.sftMode = sftMode
        self.limits = limits; self.shuffle = shuffle; self.seed = seed; self.tdpoPermutationSeeds = tdpoPermutationSeeds
    }
}

/// Where an iterator stands between two batches; enough to resume exactly (checkpointed).
public struct IteratorPosition: Codable, Equatable, Sendable {
    public var epoch = 0
    /// Next prompt of the current epoch's shuffled list, and next pair within it.
    public var promptIndex = 0
    public var pairIndex = 0
    /// Examples served so far (pairs, or prompts in SFT mode).
    public var examplesServed = 0
    public var finished = false
    public init() {}
}

/// Yields collated batches exactly as the reference does: per-prompt shuffles that compound across
/// epochs, pairs of a prompt kept adjacent, partial batches dropped at epoch end, and `examples`
/// rounded up to whole batches.
public struct BatchIterator {
    public let options: BatchIteratorOptions
    public private(set) var position = IteratorPosition()
    private let source: [FlatPrompt]
    private var order: [FlatPrompt]
    private let tokenizer: ElementTokenizer
    private let collator: Collator
    private var seedStream: MersenneTwister

    public init(prompts: [FlatPrompt], tokenizer: any Tokenizer, options: BatchIteratorOptions,
                resumingAt position: IteratorPosition? = nil) throws {
        guard options.epochs != nil || options.examples != nil else {
            throw DataError.invalidArgument("one of n_epochs and n_examples must be set")
        }
        guard options.batchSize > 0 else { throw DataError.invalidArgument("batch_size must be positive, got \(options.batchSize)") }
        let units = options.sftMode ? prompts.count : prompts.reduce(0) { $0 + $1.record.pairs.count }
        guard units > 0 else {
            throw DataError.noRecords(options.sftMode ? "the datasets hold no prompts" : "the datasets hold no preference pairs")
        }
        self.options = options
        self.source = prompts
        self.order = prompts
        self.tokenizer = ElementTokenizer(encoder: tokenizer, limits: options.limits)
        self.collator = Collator(padId: tokenizer.padTokenId)
        self.seedStream = MersenneTwister(numpySeed: options.seed)
        startEpoch()
        if let position {
            // Replay the compounding shuffles up to the saved epoch, then continue from there.
            while self.position.epoch < position.epoch { self.position.epoch += 1; startEpoch() }
            self.position = position
            // A run resumed with a larger budget (more epochs or examples) goes on; `next`
            // re-checks both limits.
            self.position.finished = false
        }
    }

    private mutating func startEpoch() {
        var seed = seedStream.next32()
        if options.tdpoPermutationSeeds { seed &= 0x7FFF_FFFF }
        if options.shuffle {
            var mt = MersenneTwister(pythonSeed: seed)
            mt.shuffle(&order)
        }
    }

    /// The next batch, or nil when the epochs or the example budget are used up.
    public mutating func next() throws -> Batch? {
        var elements: [BatchElement] = []
        if let n = options.examples, position.examplesServed >= n { position.finished = true }
        while !position.finished {
            if let epochs = options.epochs, position.epoch >= epochs { position.finished = true; break }
            if position.promptIndex >= order.count {
                // End of epoch: the partial batch is dropped, the next epoch reshuffles in place.
                elements.removeAll()
                position.epoch += 1
                position.promptIndex = 0
                position.pairIndex = 0
                if let epochs = options.epochs, position.epoch >= epochs { position.finished = true; break }
                startEpoch()
                continue
            }
            let item = order[position.promptIndex]
            if options.sftMode {
                elements.append(try tokenizer.element(prompt: item.prompt, chosen: item.record.sftTarget, rejected: nil,
                                                      mode: item.truncationMode, text: item.text))
                position.promptIndex += 1
            } else {
                if position.pairIndex >= item.record.pairs.count {
                    position.promptIndex += 1
                    position.pairIndex = 0
                    continue
                }
                let pair = item.record.pairs[position.pairIndex]
                elements.append(try tokenizer.element(prompt: item.prompt, chosen: item.record.responses[pair.preferred],
                                                      rejected: item.record.responses[pair.dispreferred], mode: item.truncationMode,
                                                      text: item.text))
                position.pairIndex += 1
            }
            position.examplesServed += 1
            if elements.count == options.batchSize {
                if let n = options.examples, position.examplesServed >= n { position.finished = true }
                return collator.collate(elements)
            }
        }
        return nil
    }

    /// All remaining batches (the eval set is materialised once this way).
    public mutating func collect() throws -> [Batch] {
        var out: [Batch] = []
        while let b = try next() { out.append(b) }
        return out
    }
}
