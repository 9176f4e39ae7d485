import DPOHostSDK

/// The first export of every loss plugin (plugin.h, `dph_plugin_abi_version`), written once:
/// DPHLossKit is linked into each loss library, so each library exports its own copy and a
/// plugin writes only `dph_plugin_init` (LossExport).
@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { LossExport.abiVersion }
