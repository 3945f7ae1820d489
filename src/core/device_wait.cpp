#include "core/device_wait.h"

namespace autodist {
namespace {
DeviceWaiter& waiter() {
  static DeviceWaiter w;
  return w;
}
}  // namespace

void set_device_waiter(DeviceWaiter w) { waiter() = std::move(w); }
const DeviceWaiter& device_waiter() { return waiter(); }

}  // namespace autodist
