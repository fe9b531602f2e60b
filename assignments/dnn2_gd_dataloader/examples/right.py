# 과제: Optimizer (GD) 와 데이터로더 — .py 로 제출 (submitted as a module)

import torch
import torch.nn as nn
import torch.nn.functional as F

# for reproducibility
torch.manual_seed(1)

# 과제 1: f(x) = x**4 의 경사 하강법
def f_prime(x):
    return 4 * x ** 3


def gradient_descent(x0, lr, steps):
    x = x0
    xs = []
    for _ in range(steps):
        x = x - lr * f_prime(x)
        xs.append(x)
    return xs


for i, x in enumerate(gradient_descent(2.0, 0.01, 9), start=1):
    print('x_{} = {:.4f}'.format(i, float(x)))

from torch.utils.data import Dataset
from torch.utils.data import DataLoader


class CustomDataset(Dataset):
    def __init__(self):
        self.x_data = [[73, 80, 75],
                       [93, 88, 93],
                       [89, 91, 90],
                       [96, 98, 100],
                       [73, 66, 70]]
        self.y_data = [[152], [185], [180], [196], [142]]

    # 총 데이터의 개수를 리턴
    def __len__(self):
        return len(self.x_data)

    # 인덱스를 입력받아 그에 맵핑되는 입출력 데이터를 파이토치의 Tensor 형태로 리턴
    def __getitem__(self, idx):
        x = torch.FloatTensor(self.x_data[idx])
        y = torch.FloatTensor(self.y_data[idx])
        return x, y


# 모델 데이터 셋 생성
dataset = CustomDataset()

dataloader = DataLoader(
    dataset,
    batch_size = 2,
    shuffle = True
)

# 확인: 한 epoch 의 minibatch 들
print(len(dataset), dataset[0])
for batch_idx, samples in enumerate(dataloader):
    x_train, y_train = samples
    print(batch_idx + 1, x_train.shape, y_train.shape)

class MultivariateLinearRegressionModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x):
        return self.linear(x)


model = MultivariateLinearRegressionModel()
optimizer = torch.optim.SGD(model.parameters(), lr = 1e-5)

nb_epochs = 20
for epoch in range(nb_epochs + 1):
    for batch_idx, samples in enumerate(dataloader):
        x_train, y_train = samples

        # H(x) 계산
        prediction = model(x_train)

        # cost 계산
        cost = F.mse_loss(prediction, y_train)

        # cost로 H(x) 개선
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()

        print('Epoch {:4d}/{} Batch {}/{} Cost: {:.6f}'.format(
            epoch, nb_epochs, batch_idx + 1, len(dataloader),
            cost.item()
        ))
