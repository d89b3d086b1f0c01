import torch
import numpy as np

# NumPy arrays come from .npy files: array.npy holds
# np.array([[1.0, 2.0], [3.0, 4.0]]), saved with np.save
a = np.load('array.npy')
t = torch.from_numpy(a)
print(t)
print(t.dtype)

# from_numpy shares NumPy's float64; .float() makes PyTorch's default dtype
f = t.float() * 2
print(f)

# Back to NumPy and to a tensor again
b = f.numpy()
print(torch.from_numpy(b).shape)

# A tensor that requires grad must be detached first
x = torch.tensor([1.0, 2.0], requires_grad=True)
print(torch.from_numpy(x.detach().numpy()))
