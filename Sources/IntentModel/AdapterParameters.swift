import IntentKernels

/// Where one LoRA pair lives inside `AdapterParameters.buffer`.
public struct LoRASlot: Sendable {
    public let layer: Int
    public let projection: TensorNames.Projection
    public let inFeatures: Int
    public let outFeatures: Int
    /// A [r, in] and B [out, r].
    public let a: Int
    public let b: Int
}

/// Every trainable parameter of an adapter in one allocation (llm.c layout): the LoRA pairs of
/// each targeted projection of each layer, then the classification head W [K, C], b [K].
/// Zeroing gradients is one fill and AdamW is one flat loop over `buffer`.
public final class AdapterParameters: @unchecked Sendable {
    public let lora: LoRAConfig
    public let encoder: EncoderConfig
    public let classes: Int
    public let buffer: FloatBuffer
    public let slots: [LoRASlot]
    public let headWeight: Int
    public let headBias: Int
    /// 1 where AdamW applies weight decay (matrices), 0 for biases.
    public let decayMask: FloatBuffer

    public init(lora: LoRAConfig, encoder: EncoderConfig, classes: Int) {
        precondition(classes >= 1, "an adapter needs at least one class")
        self.lora = lora
        self.encoder = encoder
        self.classes = classes
        var next = 0
        func take(_ n: Int) -> Int {
            defer { next += n }
            return next
        }
        var slots: [LoRASlot] = []
        for layer in 0..<encoder.layers {
            for p in lora.targets {
                let (i, o) = p.shape(encoder)
                let a = take(lora.rank * i), b = take(o * lora.rank)
                slots.append(LoRASlot(layer: layer, projection: p, inFeatures: i, outFeatures: o, a: a, b: b))
            }
        }
        self.slots = slots
        headWeight = take(classes * encoder.hiddenSize)
        headBias = take(classes)
        buffer = FloatBuffer(count: next)
        decayMask = FloatBuffer(count: next)
        decayMask.pointer.update(repeating: 1, count: headBias)
    }

    @inline(__always)
    public func pointer(_ offset: Int) -> UnsafeMutablePointer<Float> { buffer.pointer + offset }

    /// LoRA slots of one layer.
    public func slots(layer: Int) -> ArraySlice<LoRASlot> {
        let per = lora.targets.count
        return slots[(layer * per)..<((layer + 1) * per)]
    }

    /// PEFT's initialisation: A ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5), B = 0, so a
    /// fresh adapter leaves the encoder unchanged. The head is zero (the linear probe fits it).
    public func initialize(seed: UInt64) {
        buffer.zero()
        var rng = SplitMix64(seed: seed)
        for s in slots {
            let bound = 1 / Float(s.inFeatures).squareRoot()
            let a = pointer(s.a)
            for j in 0..<(lora.rank * s.inFeatures) { a[j] = Float.random(in: -bound..<bound, using: &rng) }
        }
    }

    public func copy() -> AdapterParameters {
        let other = AdapterParameters(lora: lora, encoder: encoder, classes: classes)
        other.buffer.pointer.update(from: buffer.pointer, count: buffer.count)
        return other
    }
}

extension EncoderWeights {
    /// A private copy of these weights with every LoRA pair merged in: W += s · B · A
    /// (one sgemm per targeted projection), repacked for few-row inference.
    public func merged(with p: AdapterParameters) -> EncoderWeights {
        precondition(p.encoder == config, "adapter was made for a different encoder shape")
        let out = copy()
        let c = config.hiddenSize, r = p.lora.rank
        for s in p.slots {
            let l = out.layers[s.layer]
            let target: UnsafeMutablePointer<Float>
            switch s.projection {
            case .query: target = out.pointer(l.qkvWeight)
            case .key: target = out.pointer(l.qkvWeight + c * c)
            case .value: target = out.pointer(l.qkvWeight + 2 * c * c)
            case .attentionOutput: target = out.pointer(l.outWeight)
            case .intermediate: target = out.pointer(l.ffnInWeight)
            case .output: target = out.pointer(l.ffnOutWeight)
            }
            gemm(target, p.pointer(s.b), p.pointer(s.a), m: s.outFeatures, n: s.inFeatures, k: r, alpha: p.lora.scaling, beta: 1)
        }
        out.repack()
        return out
    }
}
