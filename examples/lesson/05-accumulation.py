import torch

# Gradients accumulate across backward() calls until they are zeroed
x = torch.tensor(3.0, requires_grad=True)

loss1 = x**2
loss1.backward()
print(x.grad)

loss2 = 3*x
loss2.backward()
print(x.grad)

x.grad.zero_()
print(x.grad)

loss3 = x**2
loss3.backward(retain_graph=True)
loss3.backward()
print(x.grad)
