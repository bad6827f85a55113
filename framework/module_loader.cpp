#include "framework/module_loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "framework/manager.h"

#include "library/log.h"

namespace msw {
namespace {

std::string routeKey(std::string_view method, std::string_view path) {
  return std::string(method) + " " + std::string(path);
}

class ModuleRegistrar : public Module {
 public:
  ModuleRegistrar(LoadedModule& m, std::map<std::string, Controller>& controllers,
                  std::map<std::string, ManagerRouteFn>& routes, App& app)
      : module_(m), controllers_(controllers), routes_(routes), app_(app) {}
  Controller& controller(std::string_view name) override { return controllers_[Controller::lower(name)]; }
  App& app() override { return app_; }
  void managerRoute(std::string_view method, std::string_view path, ManagerRouteFn fn) override {
    const char* refused = nullptr;
    if (method != "GET" && method != "POST") refused = "the method must be GET or POST";
    else if (path.empty() || path[0] != '/' || path.find_first_of("?# ") != std::string_view::npos)
      refused = "the path must start with / and hold no ?, # or space";
    else if (managerServes(path)) refused = "the manager serves that path itself";
    else if (!fn) refused = "no handler";
    if (refused) {
      LOG_ERROR("module %s: manager route %.*s %.*s refused: %s", module_.name().c_str(),
                static_cast<int>(method.size()), method.data(), static_cast<int>(path.size()), path.data(), refused);
      return;
    }
    routes_[routeKey(method, path)] = std::move(fn);
  }

 private:
  LoadedModule& module_;
  std::map<std::string, Controller>& controllers_;
  std::map<std::string, ManagerRouteFn>& routes_;
  App& app_;
};

// A route two modules register goes to the first in `modules` order.
void dropTakenRoutes(const RouteTable& table, LoadedModule& m, std::map<std::string, ManagerRouteFn>& routes) {
  for (auto it = routes.begin(); it != routes.end();) {
    auto owner = std::find_if(table.modules.begin(), table.modules.end(),
                              [&](const auto& kv) { return kv.second->managerRoutes().count(it->first) > 0; });
    if (owner == table.modules.end()) {
      ++it;
      continue;
    }
    LOG_ERROR("module %s: manager route %s refused: module %s serves it", m.name().c_str(), it->first.c_str(),
              owner->first.c_str());
    it = routes.erase(it);
  }
}

bool validModuleName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

LoadedModule::Library::~Library() {
  if (desc && desc->shutdown) {
    try {
      desc->shutdown();
    } catch (...) {
      LOG_ERROR("module shutdown threw");
    }
  }
  if (handle) dlclose(handle);
}

LoadedModule::~LoadedModule() {
  controllers_.clear();  // their std::function code lives in lib_
  managerRoutes_.clear();
  lib_.reset();
}

const Controller* LoadedModule::controller(const std::string& lowerName) const {
  auto it = controllers_.find(lowerName);
  return it == controllers_.end() ? nullptr : &it->second;
}

const Controller* RouteTable::find(const std::string& module, const std::string& controller) const {
  auto it = modules.find(module);
  return it == modules.end() ? nullptr : it->second->controller(controller);
}

const ManagerRouteFn* RouteTable::findManagerRoute(std::string_view method, std::string_view path,
                                                   bool& pathKnown) const {
  pathKnown = false;
  std::string key = routeKey(method, path);
  std::string other = routeKey(method == "GET" ? "POST" : "GET", path);
  for (const auto& [name, m] : modules) {
    const auto& routes = m->managerRoutes();
    if (auto it = routes.find(key); it != routes.end()) return &it->second;
    if (routes.count(other)) pathKnown = true;
  }
  return nullptr;
}

const Controller* RouteTable::findQualified(std::string_view name) const {
  size_t dot = name.find('.');
  if (dot == std::string_view::npos) return nullptr;
  return find(Controller::lower(name.substr(0, dot)), Controller::lower(name.substr(dot + 1)));
}

ModuleLoader::ModuleLoader(std::string pluginDir, std::string scratchDir, App& app)
    : pluginDir_(std::move(pluginDir)), scratchDir_(std::move(scratchDir)), app_(app) {}

std::shared_ptr<const RouteTable> ModuleLoader::load(const std::vector<std::string>& names,
                                                     const RouteTable* previous,
                                                     std::vector<std::string>& errors) {
  auto table = std::make_shared<RouteTable>();
  for (const std::string& name : names) {
    std::string error;
    std::shared_ptr<LoadedModule> m = loadOne(name, error);
    if (m) {
      dropTakenRoutes(*table, *m, m->managerRoutes_);
      LOG_INFO("module %s loaded from %s (%zu controllers)", name.c_str(), m->path().c_str(),
               m->controllers().size());
      table->modules[name] = std::move(m);
      continue;
    }
    errors.push_back(name + ": " + error);
    auto old = previous ? previous->modules.find(name) : std::map<std::string, std::shared_ptr<const LoadedModule>>::const_iterator();
    if (previous && old != previous->modules.end()) {
      LOG_ERROR("module %s: %s; keeping the version already loaded", name.c_str(), error.c_str());
      table->modules[name] = old->second;
    } else {
      LOG_ERROR("module %s: %s; not loaded", name.c_str(), error.c_str());
    }
  }
  return table;
}

std::shared_ptr<LoadedModule> ModuleLoader::loadOne(const std::string& name, std::string& error) {
  if (!validModuleName(name)) {
    error = "invalid module name (lower-case letters, digits and _ only)";
    return nullptr;
  }
  std::string source = pluginDir_ + "/" + name + ".so";
  // dlopen caches by path: a rebuilt file at the same path would come back
  // as the old code. Load a private copy, then unlink it (the mapping stays).
  std::string copy = scratchDir_ + "/" + name + "." + std::to_string(getpid()) + "." +
                     std::to_string(++generation_) + ".so";
  std::error_code ec;
  std::filesystem::create_directories(scratchDir_, ec);
  std::filesystem::copy_file(source, copy, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) {
    error = "cannot copy " + source + ": " + ec.message();
    return nullptr;
  }
  auto m = std::make_shared<LoadedModule>();
  m->name_ = name;
  m->path_ = source;
  m->lib_ = std::make_unique<LoadedModule::Library>();
  m->lib_->handle = dlopen(copy.c_str(), RTLD_NOW | RTLD_LOCAL);
  ::unlink(copy.c_str());
  if (!m->lib_->handle) {
    error = std::string("dlopen: ") + dlerror();
    return nullptr;
  }
  auto* desc = static_cast<const msw_module_descriptor*>(dlsym(m->lib_->handle, "msw_module"));
  if (!desc) {
    error = "no msw_module descriptor (built without MSW_MODULE?)";
    return nullptr;
  }
  if (desc->api_version != MSW_API_VERSION) {
    error = "built for API version " + std::to_string(desc->api_version) + ", this server has " +
            std::to_string(MSW_API_VERSION) + ": rebuild it";
    return nullptr;
  }
  if (!desc->name || name != desc->name) {
    error = std::string("descriptor names module '") + (desc->name ? desc->name : "") + "'";
    return nullptr;
  }
  if (!desc->init) {
    error = "descriptor has no init";
    return nullptr;
  }
  ModuleRegistrar registrar(*m, m->controllers_, m->managerRoutes_, app_);
  int rc = 0;
  try {
    rc = desc->init(registrar);
  } catch (const std::exception& e) {
    error = std::string("init threw: ") + e.what();
    return nullptr;
  } catch (...) {
    error = "init threw";
    return nullptr;
  }
  if (rc != 0) {
    error = "init returned " + std::to_string(rc);
    return nullptr;
  }
  m->lib_->desc = desc;  // from now on its shutdown runs at unload
  return m;
}

}  // namespace msw
