import CaseCatalog
import Testing

@testable import CaseMatcher

/// The limits that come from packing a hit as `end offset << 24 | pattern id` in 64 bits.
@Suite struct PatternLimitTests {
    @Test(arguments: [
        (0, 3, nil),
        (3, 3, nil),
        (4, 3, "too many symptoms: 4 (at most 3)"),
        (16_777_216, CompiledCatalog.maxPatterns, "too many symptoms: 16,777,216 (at most 16,777,215)"),
        (123_456_789, 1000, "too many symptoms: 123,456,789 (at most 1,000)"),
    ] as [(Int, Int, String?)])
    func aCatalogWithMoreSymptomsThanTheLimitIsRefused(count: Int, limit: Int, message: String?) {
        do {
            try CompiledCatalog.checkPatternCount(count, limit: limit)
            #expect(message == nil, "accepted \(count) symptoms with a limit of \(limit)")
        } catch {
            #expect(error.errors.map(\.message) == [message].compactMap { $0 })
            #expect(error.errors.first?.code == .tooLarge)
        }
    }

    @Test func theLimitsFitTheHitBuffer() {
        #expect(CompiledCatalog.maxPatterns == 16_777_215)
        #expect(CompiledCatalog.maxPatterns < 1 << HitBuffer.idBits, "every id fits in the id bits")
        let end = UInt64(CompiledCatalog.maxChunkBytes)
        #expect((end << HitBuffer.idBits) >> HitBuffer.idBits == end, "every end offset survives the shift")
    }
}
