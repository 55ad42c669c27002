/// How a cost in US dollars is written in headers and logs: plain decimal, up to ten places,
/// no exponent.
public enum CostFormat {
    public static func string(_ cost: Double) -> String {
        guard cost.isFinite, cost >= 0 else { return "0" }
        let scaled = (cost * 1e10).rounded()
        var digits = String(Int64(scaled))
        if digits.count <= 10 { digits = String(repeating: "0", count: 11 - digits.count) + digits }
        var whole = String(digits.dropLast(10))
        var fraction = String(digits.suffix(10))
        while fraction.hasSuffix("0") { fraction.removeLast() }
        if whole.isEmpty { whole = "0" }
        return fraction.isEmpty ? whole : whole + "." + fraction
    }
}
