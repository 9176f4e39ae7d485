import Foundation
import PluginHost

extension LanguageModel {
    /// A fingerprint of the weights as they compute (after any cast): every parameter's name and
    /// shape and every k-th value, at most 2^20 of them, hashed with SHA-256. Two models that give
    /// different log-probs differ here unless they differ only between sampled values.
    public func weightFingerprint() -> String {
        let stride = max(1, parameterCount >> 20)
        var data = Data()
        var index = 0
        for p in parameters.sorted(by: { $0.name < $1.name }) {
            data.append(contentsOf: Array(p.name.utf8) + [0])
            for d in p.variable.shape { withUnsafeBytes(of: Int64(d).littleEndian) { data.append(contentsOf: $0) } }
            let value = currentValue(of: p)
            var i = (stride - index % stride) % stride
            while i < value.count {
                withUnsafeBytes(of: value.pointer[i].bitPattern.littleEndian) { data.append(contentsOf: $0) }
                i += stride
            }
            index += value.count
        }
        return SHA256.hex(data)
    }
}
