#!/usr/bin/env bash
# The chapter's tensor and gradient cells, run as example programs, print what
# the book (and PyTorch) print.  Usage: core_examples.sh <cgrad binary>
set -euo pipefail
ex="${CGRAD_BINARY_DIR:?}/examples"
fail=0
expect() { # expect <program> <literal text that must appear in its output>
  if ! grep -qF -- "$2" <<<"$out"; then
    echo "FAIL: $1 did not print: $2"; fail=1
  fi
}

out=$("$ex/tensors")
expect tensors "tensor([[1, 2, 3],"
expect tensors "        [4, 5, 6]])"
expect tensors "tensor([2, 5])"
expect tensors "tensor([5, 6])"
expect tensors "tensor([[2, 3, 4],"
expect tensors "'torch.LongTensor'"
expect tensors "tensor([[1.5000, 3.0000, 4.5000],"
expect tensors "        [6.0000, 7.5000, 9.0000]])"
expect tensors "tensor([2, 3, 4])"
expect tensors "torch.Size([1010, 28, 28])"

out=$("$ex/gradients")
expect gradients "tensor(6.)"
expect gradients "tensor([ 6.,  8., 20.])"
expect gradients "tensor(9., grad_fn=<PowBackward0>)"
expect gradients "tensor([ 3.,  4., 10.], requires_grad=True)"
expect gradients "tensor(125., grad_fn=<SumBackward0>)"

# torch.manual_seed(42) then the chapter's calls give these values in PyTorch 1.13.
out=$("$ex/sgd_quadratic" 42)
expect sgd_quadratic "params = tensor([-0.7658, -0.7506,  1.3525], requires_grad=True)"
expect sgd_quadratic "params = tensor([ 0.1754, -0.6896,  1.3587], requires_grad=True)"
# the loss falls at every one of the 10 steps
losses=$(grep -E '^[0-9]+\.[0-9]{4}$' <<<"$out")
[[ $(wc -l <<<"$losses") -eq 10 ]] || { echo "FAIL: expected 10 losses"; fail=1; }
sort -g -r -c <<<"$losses" || { echo "FAIL: losses do not fall: $losses"; fail=1; }

if [[ $fail -eq 0 ]]; then echo "core examples: 3 passed, 0 failed"; fi
exit $fail
