// A shared library that is not a Parley plugin: it has code but no parley_plugin_info entry point.
// plugin_errors.sh checks that loading it is reported and does not stop Parley.
extern "C" __attribute__((visibility("default"))) int not_a_parley_plugin() { return 42; }
