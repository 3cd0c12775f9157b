# parley_add_plugin(<target> <sources...>): builds an out-of-tree addon plugin (a shared module
# that Parley loads from --addon-path / PARLEY_ADDON_PATH).
function(parley_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE parley::parley)
  target_compile_features(${target} PRIVATE cxx_std_20)
  set_target_properties(${target} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden)
endfunction()
