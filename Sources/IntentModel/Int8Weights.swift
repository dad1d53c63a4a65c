import IntentKernels

/// The arithmetic an encoder runs its projections in.
public enum Precision: String, Sendable, CaseIterable {
    /// Every product in fp32 (OpenBLAS sgemm, or the packed kernel for a few rows).
    case fp32
    /// Projections in int8 × uint8 with int32 sums (oneDNN); layer norm, softmax, GELU, residuals
    /// and attention stay fp32. Falls back to fp32 on CPUs without AVX2 (`Int8Support.level`).
    case int8

    /// The precision this CPU will actually run for a request of `self`.
    public var effective: Precision { self == .int8 && Int8Support.level == .unavailable ? .fp32 : self }
}

/// One of a layer's four projections (query/key/value fused).
public enum ProjectionSite: String, Sendable, CaseIterable {
    case qkv, attentionOutput = "attention.output", intermediate, output
}

/// One layer's projections in int8; nil keeps that projection in fp32.
public struct Int8Layer: Sendable {
    public let qkv: QuantizedMatrix?
    public let attentionOutput: QuantizedMatrix?
    public let intermediate: QuantizedMatrix?
    public let output: QuantizedMatrix?
}

/// An encoder's projection weights quantized per output channel, built once from the (adapter-
/// merged) fp32 weights when a classifier is loaded, off the request path.
public struct Int8Weights: Sendable {
    public let layers: [Int8Layer]

    /// Quantizes every projection except those `keepFP32(layer, site)` names.
    public init(_ w: EncoderWeights, maxLevel: Int = Int8Support.weightMax,
                keepFP32: (Int, ProjectionSite) -> Bool = { _, _ in false }) {
        let c = w.config.hiddenSize, f = w.config.intermediateSize
        layers = w.layers.enumerated().map { index, l in
            func q(_ site: ProjectionSite, _ offset: Int, _ i: Int, _ o: Int) -> QuantizedMatrix? {
                keepFP32(index, site) ? nil : QuantizedMatrix(w.pointer(offset), outFeatures: o, inFeatures: i, maxLevel: maxLevel)
            }
            return Int8Layer(
                qkv: q(.qkv, l.qkvWeight, c, 3 * c),
                attentionOutput: q(.attentionOutput, l.outWeight, c, c),
                intermediate: q(.intermediate, l.ffnInWeight, c, f),
                output: q(.output, l.ffnOutWeight, f, c)
            )
        }
    }
}
