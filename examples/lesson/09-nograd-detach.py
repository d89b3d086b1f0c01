import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)

with torch.no_grad():
    y = x * 2
    print(y.requires_grad)
print(y)

z = x * 2
print(z.requires_grad)

d = x.detach()
print(d.requires_grad)
print(d)

w = x * x.detach()
w.sum().backward()
print(x.grad)
