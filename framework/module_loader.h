// framework/module_loader.h: module plugins and the route table built from them.
//
// A RouteTable is an immutable snapshot: module name -> loaded module ->
// controllers. Workers each hold a shared_ptr to the table they route with;
// reload builds a complete new table and hands it to every worker, so a
// message in flight finishes on the table it started with, and a library is
// unloaded only when the last table (or pending callback) holding it is gone.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "msw/module.h"

namespace msw {

// One dlopen()ed copy of a module and the controllers its init registered.
class LoadedModule {
 public:
  ~LoadedModule();
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  const Controller* controller(const std::string& lowerName) const;
  const std::map<std::string, Controller>& controllers() const { return controllers_; }
  // Its manager routes, by "METHOD path" (docs/manager-api.md#module-routes).
  const std::map<std::string, ManagerRouteFn>& managerRoutes() const { return managerRoutes_; }

 private:
  friend class ModuleLoader;
  // Declared first so that it is destroyed last: the controllers' code
  // lives in the library.
  struct Library {
    void* handle = nullptr;
    const msw_module_descriptor* desc = nullptr;
    ~Library();
  };
  std::unique_ptr<Library> lib_;
  std::string name_;
  std::string path_;
  std::map<std::string, Controller> controllers_;
  std::map<std::string, ManagerRouteFn> managerRoutes_;
};

struct RouteTable {
  std::map<std::string, std::shared_ptr<const LoadedModule>> modules;
  const Controller* find(const std::string& module, const std::string& controller) const;
  // "Module.Controller" in any case.
  const Controller* findQualified(std::string_view name) const;
  // The module route for `method` `path`, or nullptr; `pathKnown` tells
  // whether some module serves that path with another method.
  const ManagerRouteFn* findManagerRoute(std::string_view method, std::string_view path, bool& pathKnown) const;
};

class ModuleLoader {
 public:
  // `pluginDir` holds NAME.so for each module; `scratchDir` receives the
  // private copies that dlopen needs to see a rebuilt file as new.
  ModuleLoader(std::string pluginDir, std::string scratchDir, App& app);

  // Loads every module in `names`. A module that fails is logged and left
  // out, or, when `previous` has it, kept at its previous version; each
  // failure is also appended to `errors`.
  std::shared_ptr<const RouteTable> load(const std::vector<std::string>& names, const RouteTable* previous,
                                         std::vector<std::string>& errors);

 private:
  std::shared_ptr<LoadedModule> loadOne(const std::string& name, std::string& error);

  std::string pluginDir_;
  std::string scratchDir_;
  App& app_;
  unsigned generation_ = 0;
};

}  // namespace msw
