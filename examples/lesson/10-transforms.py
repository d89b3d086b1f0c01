import torch
from torch.func import vmap, grad

def f(x):
    return x**3 + 2*x**2 - 5*x + 3

x = torch.tensor(2.0)
print(grad(f)(x))

xs = torch.tensor([0.0, 1.0, 2.0, 3.0])
print(vmap(grad(f))(xs))
print(vmap(lambda t: t**2)(xs))
