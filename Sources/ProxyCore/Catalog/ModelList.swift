/// One entry of the model list: a model served by a provider at a path, with its prices.
public struct ModelListEntry: Sendable, Equatable {
    public var model: String
    public var family: String?
    public var providerID: String
    /// The upstream path after the provider segment of the handle (`/chat/completions`).
    public var path: String
    public var promptPrice1K: Double?
    public var completionPrice1K: Double?
}

/// The parsed model list: good entries, and a warning for each entry skipped.
public struct ModelList: Sendable, Equatable {
    public var entries: [ModelListEntry]
    public var warnings: [String]

    public init(entries: [ModelListEntry] = [], warnings: [String] = []) {
        self.entries = entries
        self.warnings = warnings
    }

    /// Why a whole list was refused (the last good list stays).
    public struct Failure: Error, Equatable, Sendable {
        public let reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// Parses a model list: a JSON array of `{model_version, model_family, handle,
    /// prompt_price_1k, completion_price_1k}`. Bad entries and entries naming a provider not in
    /// `providers` are skipped with a warning; a duplicate (same model and provider) keeps the first.
    public static func parse(_ bytes: [UInt8], providers: Set<String>) throws(Failure) -> ModelList {
        let root: JSONValue
        do { root = try JSONValue.parse(bytes) } catch { throw Failure(reason: "not valid JSON: \(error)") }
        guard case .array(let items) = root else { throw Failure(reason: "must be a JSON array, not \(root.typeName)") }
        var list = ModelList()
        var seen = Set<String>()
        for (i, item) in items.enumerated() {
            let at = "model list entry \(i)"
            guard case .object = item else { list.warnings.append("\(at): must be an object, skipped"); continue }
            guard let model = item["model_version"]?.stringValue, !model.isEmpty else {
                list.warnings.append("\(at): model_version missing or not a string, skipped"); continue
            }
            guard let handle = item["handle"]?.stringValue, handle.hasPrefix("/") else {
                list.warnings.append("\(at) (\(model)): handle missing or not starting with '/', skipped"); continue
            }
            let afterSlash = handle.dropFirst()
            let slash = afterSlash.firstIndex(of: "/") ?? afterSlash.endIndex
            let provider = String(afterSlash[..<slash])
            let path = String(afterSlash[slash...])
            guard providers.contains(provider) else {
                list.warnings.append("\(at) (\(model)): unknown provider '\(provider)' in handle, skipped"); continue
            }
            guard !path.isEmpty else { list.warnings.append("\(at) (\(model)): handle has no path after the provider, skipped"); continue }
            do { try PathSafety.check(Array(path.utf8)) } catch {
                list.warnings.append("\(at) (\(model)): handle path refused (\(error.message)), skipped"); continue
            }
            var prices: [Double?] = []
            var bad = false
            for key in ["prompt_price_1k", "completion_price_1k"] {
                switch item[key] {
                case nil, .null?: prices.append(nil)
                case .number?:
                    guard let v = item[key]?.doubleValue, v >= 0, v.isFinite else { bad = true; continue }
                    prices.append(v)
                default: bad = true
                }
                if bad { list.warnings.append("\(at) (\(model)): \(key) must be a non-negative number, skipped"); break }
            }
            if bad { continue }
            guard seen.insert(model + "\u{0}" + provider).inserted else {
                list.warnings.append("\(at) (\(model)): duplicate of an earlier entry for provider '\(provider)', skipped"); continue
            }
            list.entries.append(ModelListEntry(model: model, family: item["model_family"]?.stringValue, providerID: provider,
                                               path: path, promptPrice1K: prices[0], completionPrice1K: prices[1]))
        }
        return list
    }
}
