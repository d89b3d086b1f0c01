import torch

# In-place on a leaf that requires grad is refused
x = torch.tensor([1.0, 2.0], requires_grad=True)
x += 1
print(x)
