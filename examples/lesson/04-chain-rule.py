import torch

# The chain rule: g = x**2, y = 3g + 1; dy/dx = 3 * 2x = 12 at x = 2
x = torch.tensor(2.0, requires_grad=True)
g = x**2
y = 3*g + 1
y.backward()
print(f"y = {y.item()}")
print(f"dy/dx = {x.grad.item()}")

def f(x):
    return x**3 + 2*x**2 - 5*x + 3

x = torch.tensor(2.0, requires_grad=True)
out = f(x)
out.backward()
print(f"f(2.0) = {out.item()}")
print(f"f'(2.0) = {x.grad.item()}")
