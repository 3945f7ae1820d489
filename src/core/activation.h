// defines: Activation (the elementwise activations of the MLPs: a config value and a kernel argument)
#pragma once

namespace autodist {

// Silu: x sigmoid(x); GeluTanh: HF gelu_new / gelu_pytorch_tanh, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
// Gelu: exact, 0.5 x (1 + erf(x / sqrt 2)); Relu: max(x, 0).
enum class Activation { Silu, GeluTanh, Gelu, Relu };

}  // namespace autodist
