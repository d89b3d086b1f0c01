import torch

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

if torch.cuda.is_available():
    print("Using the GPU")
else:
    print("No GPU: using the CPU")

x = torch.tensor([1.0, 2.0, 3.0]).to(device)
y = (x * 2).sum()
print(y.item())
z = y.cpu()
print(z.to(torch.float64))
