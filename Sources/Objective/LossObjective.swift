import Configuration
import PluginHost

public enum LossObjectiveError: Error, CustomStringConvertible {
    case unusedOption(String, losses: [String])
    case noPairWeights(String)
    public var description: String {
        switch self {
        case let .unusedOption(key, losses):
            return "loss.\(key) is an option of none of the losses \(losses.joined(separator: ", "))"
        case let .noPairWeights(loss):
            return "use_weighting=true: loss '\(loss)' does not weigh its examples (DPH_LOSS_PAIR_WEIGHTS)"
        }
    }
}

/// Builds the objective from the `loss` config: one plugin per name in `loss.name`, each given
/// the shared `loss.*` options it declares (a single loss gets all of them, so a misspelt option
/// is the plugin's clear error with a suggestion), then its own `loss.<name>.*` options, all of
/// them and winning over the shared ones.
public enum LossObjective {
    /// `loss=NAME` for a loss plugin that ships no `config/loss/NAME.yaml`: its declared options
    /// with their defaults (a required one `???`, as in the YAML files), so a loss is its plugin
    /// alone. A YAML file of the name wins: it keeps the reference's defaults (docs/recipes.md).
    public static func configDefaults(_ registry: PluginRegistry) -> ConfigLoader.GroupDefaults {
        // Each name resolved once; when its plugins clash, the last one registered stands in
        // (`build` then reports the clash).
        var lastOfName: [String: LoadedPlugin] = [:]
        for plugin in registry.plugins(kind: .loss) { lastOfName[plugin.descriptor.name] = plugin }
        var nodes: [String: ConfigValue] = [:]
        for (name, last) in lastOfName {
            let resolved = (try? registry.resolve(kind: .loss, name: name)) ?? last
            var node = ConfigMapping([("name", .string(name))])
            for option in resolved.descriptor.options { node[option.name] = option.defaultValue.map(ScalarParser.parse) ?? .missing }
            nodes[name] = .mapping(node)
        }
        return ConfigLoader.GroupDefaults(nodes: ["loss": nodes])
    }

    /// `desensitization`: LD-DPO's weighting of every loss's sequence log-probs (`ld_alpha`).
    /// `weighting`: WPO's pair weights (`use_weighting`), refused for a loss that cannot apply them.
    public static func build(_ config: LossConfig, registry: PluginRegistry,
                             desensitization: LengthDesensitization? = nil, weighting: Bool = false) throws -> CombinedLoss {
        let options = config.options.mapValues(\.displayText)
        let plugins = try config.names.map { try registry.resolve(kind: .loss, name: $0) }
        if plugins.count > 1 {
            let declared = Set(plugins.flatMap { $0.descriptor.options.map(\.name) })
            if let unused = options.keys.sorted().first(where: { !declared.contains($0) }) {
                throw LossObjectiveError.unusedOption(unused, losses: config.names)
            }
        }
        let terms = try zip(zip(config.names, plugins), config.weights).map { pair, weight in
            let (name, plugin) = pair
            let shared = plugins.count == 1 ? options
                : options.filter { key, _ in plugin.descriptor.options.contains { $0.name == key } }
            let mine = shared.merging((config.perLoss[name] ?? [:]).mapValues(\.displayText)) { $1 }
            let loss = try LossPlugin(plugin, options: mine)
            if weighting && !loss.needs.contains(.pairWeights) { throw LossObjectiveError.noPairWeights(name) }
            return WeightedLoss(name: name, computation: LossComputation(plugin: loss, desensitization: desensitization, weighting: weighting),
                                weight: weight)
        }
        return CombinedLoss(terms)
    }
}
