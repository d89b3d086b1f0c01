import torch

# Creating tensors: from data, filled, ranges
a = torch.tensor([1.0, 2.0, 3.0])
print(a)
print(a.shape)
print(a.dtype)

b = torch.zeros(2, 3)
print(b)
c = torch.ones(2, 3, dtype=torch.float64)
print(c)
d = torch.arange(0, 10, 2)
print(d)
f = torch.full((2, 2), 7.0)
print(f)

# Integers, booleans, and what a tensor knows about itself
e = torch.tensor([[1, 2], [3, 4]])
print(e)
print(e.shape, e.dtype)
print(e.dim(), e.numel(), e.size(0), len(e))
print(e.size())
m = torch.tensor([True, False, True])
print(m)

# Random tensors differ from PyTorch's numbers: print only their shape
r = torch.rand(2, 3)
print(r.shape)

# Back to Python numbers and lists
print(a.tolist())
print(torch.tensor(3.5).item())
print(f"a has {a.numel()} elements, a[0] = {a[0].item()}")
