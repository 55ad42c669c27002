/// The provider table proxyd starts from when no file says otherwise. Each entry is written
/// in the configuration file's own format, so a file entry of the same name merges over it
/// key by key, and adding a provider is one more entry here or in a file, never code.
public enum BuiltinProviders {
    /// The built-in entries, in the order ties in `priority` keep.
    public static let entries: [(String, JSONValue)] = [
        ("openai", entry("https://api.openai.com", api: "openai", key: "OPENAI_API_KEY", allowed: ["/v1/*"],
                         models: ["gpt-*", "chatgpt-*", "o1*", "o3*", "o4*", "codex-*", "text-embedding-*", "omni-moderation-*",
                                  "dall-e-*", "gpt-image-*", "tts-*", "whisper-*"])),
        ("anthropic", entry("https://api.anthropic.com", api: "anthropic", key: "ANTHROPIC_API_KEY", allowed: ["/v1/*"],
                            models: ["claude-*"])),
        ("openrouter", entry("https://openrouter.ai", api: "openai", key: "OPENROUTER_API_KEY",
                             allowed: ["/api/v1/*"],
                             chat: "https://openrouter.ai/api/v1/chat/completions",
                             extra: [("supportsNativeUsdCost", .bool(true))])),
        ("chutes", entry("https://llm.chutes.ai", api: "openai", key: "CHUTES_API_KEY", allowed: ["/v1/*"])),
        ("fireworks", entry("https://api.fireworks.ai/inference", api: "openai", key: "FIREWORKS_API_KEY",
                            allowed: ["/v1/*"])),
        ("together", entry("https://api.together.xyz", api: "openai", key: "TOGETHER_API_KEY", allowed: ["/v1/*"])),
        ("groq", entry("https://api.groq.com/openai", api: "openai", key: "GROQ_API_KEY", allowed: ["/v1/*"])),
        ("deepseek", entry("https://api.deepseek.com", api: "openai", key: "DEEPSEEK_API_KEY",
                           allowed: ["/v1/*", "/chat/completions", "/models", "/user/balance"],
                           chat: "https://api.deepseek.com/chat/completions", models: ["deepseek-*"])),
        ("mistral", entry("https://api.mistral.ai", api: "openai", key: "MISTRAL_API_KEY", allowed: ["/v1/*"],
                          models: ["mistral-*", "open-mistral-*", "open-mixtral-*", "ministral-*", "codestral-*", "pixtral-*",
                                   "magistral-*", "devstral-*"])),
    ]

    /// `models`: the model-name prefixes the provider serves (patterns, so `gpt-4o-mini` routes
    /// to openai with no file); providers that serve many vendors' models have none and are
    /// reached by `provider/model` or a file's list.
    private static func entry(_ base: String, api: String, key: String, allowed: [String],
                              chat: String? = nil, models: [String] = [], extra: [(String, JSONValue)] = []) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("baseUrl", .string(base)),
            ("api", .string(api)),
            ("allowedPaths", .array(allowed.map { .string($0) })),
            ("apiKey", .string("env:" + key)),
        ]
        if let chat { members.append(("chatCompletionsUrl", .string(chat))) }
        if !models.isEmpty { members.append(("models", .array(models.map { .string($0) }))) }
        return .object(members + extra)
    }
}
