// defines: DeviceWaiter, set_device_waiter, device_waiter (how a backend waits for its device)
//
// A backend that waits for its device (a stream or an event: a copy to the host, the end of a step) hands the wait to
// the process's waiter when one is set: it polls `done` (true once the work is complete; it may throw) until it
// returns true, pacing the polls, and may end the wait by throwing or end the job. The nccl communicator installs
// one (dist/nccl_communicator.cpp) that checks every live NCCL communicator for an asynchronous error (a peer that
// failed, a broken network) and applies --comm-timeout, so a GPU waiting in a NCCL kernel for a peer that died or
// stopped ends the job naming the rank instead of hanging. Without a waiter the backend blocks in its runtime.
#pragma once
#include <functional>

namespace autodist {

using DeviceWaiter = std::function<void(const std::function<bool()>& done, const char* what)>;

// Replaces the waiter (an empty one removes it). Set before the waits it should serve (not thread-safe against them).
void set_device_waiter(DeviceWaiter w);
const DeviceWaiter& device_waiter();

}  // namespace autodist
