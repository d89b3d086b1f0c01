import torch

# Basic autograd: y = x**2 + 3x + 1, dy/dx = 2x + 3 = 7 at x = 2
x = torch.tensor([2.0], requires_grad=True)
y = x**2 + 3*x + 1
print(y)
y.backward()
print(x.grad)
print(x.is_leaf, y.is_leaf)
print(y.grad_fn.name())
print(x.requires_grad, y.requires_grad)
