/// The dialects proxyd speaks, in one table: the names a configuration's `api` may give, the
/// hub form among them, and the shapes `GET /v1/models` answers in. A new dialect is a folder
/// beside this file and a line here.
public enum StandardDialects {
    public static let registry = DialectRegistry(hub: OpenAIChatDialect(), others: [AnthropicDialect()])

    /// Listing shapes besides the hub form's, each asked for by a request's headers.
    public static let modelListings: [any ModelListingShape] = [AnthropicModelListing()]
}

extension ConfigurationLoader {
    /// Loads and validates with the standard dialects. Throws every problem found, each with
    /// its key path.
    public static func load(file: [UInt8]?, environment: [String: String],
                            overrides: CommandLineOverrides = CommandLineOverrides()) throws(ConfigurationError) -> Configuration {
        try load(file: file, environment: environment, overrides: overrides, dialects: StandardDialects.registry)
    }
}
